// probes/checks/nagios.hpp: reading what a Nagios/Monitoring plugin prints.
//
// The exec check kind runs a plugin and reads its exit code (0 OK,
// 1 WARNING, 2 CRITICAL, 3 UNKNOWN) and its output, which follows the
// plugin API (Nagios 3 and the Monitoring Plugins development guidelines):
//
//   TEXT OUTPUT | OPTIONAL PERFDATA
//   LONG TEXT LINE 1
//   LONG TEXT LINE N | PERFDATA LINE 2
//   PERFDATA LINE 3
//
// Perfdata items are separated by white space: 'label'=value[UOM];[warn];[crit];[min];[max].
// Parsing is pure and total: whatever the plugin printed, the result holds
// what could be read, and every malformed perfdata item is named in
// perfdata_errors (with its position and text) while the others still
// parse. Nothing here fails as a whole: an empty output gives an empty
// status_text, which the caller reports.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {

struct PerfDatum {
  std::string label;  // unquoted: 'free space' -> free space, 'it''s' -> it's
  double value = 0;
  // As printed. The guidelines' units are s ms us % B KB MB TB c (and check_disk
  // prints kB and GB); any other run of letters is kept as is, not an error,
  // since plugins in the wild print "rpm", "Mbit" etc.; to_base_units() then
  // leaves the value unscaled.
  std::string uom;
  // warn and crit are ranges in the plugin API ("10", "10:20", "@10:20",
  // "~:5", "10:"). Only a plain number is kept (the usual "alert above N");
  // a range is valid but kept as nullopt, because one double cannot say
  // which side alerts. min and max are plain numbers.
  std::optional<double> warn, crit, min, max;
};

struct PluginOutput {
  std::string status_text;  // the first line up to '|', trimmed
  std::string long_text;    // the following lines up to the next '|', trailing white space removed
  std::vector<PerfDatum> perfdata;
  // For people, one per problem: "perfdata item 3 'x=abc': value is not a number".
  // An item whose value cannot be read is left out of perfdata; an item with
  // a bad threshold, min or max keeps its value and loses only that field.
  std::vector<std::string> perfdata_errors;
};

// Lines may end in "\n" or "\r\n". An item whose value is "U" (the plugin
// could not determine it, per the guidelines) is skipped without an error.
PluginOutput parse_plugin_output(std::string_view output);

struct PerfSample {
  std::string metric_label;  // the perfdata label, as printed (the caller makes it a label value)
  std::string unit;          // "seconds", "bytes", "percent", "total", "" or an unknown UOM as printed
  double value = 0;
};

// Scales to base units: s/ms/us -> seconds; B/KB/kB/MB/GB/TB -> bytes, with
// 1024-based multiples as the Monitoring Plugins use them (check_disk's MB is
// 1024 * 1024 bytes); % -> percent; c (a continuous counter) -> total; no UOM
// -> "". Only the value is converted; thresholds stay in the printed unit.
PerfSample to_base_units(const PerfDatum& datum);

// 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. Any other exit code is UNKNOWN in
// the plugin API; the caller adds "exit N" to its reason for those.
std::string_view nagios_status_name(int exit_code);

}  // namespace vigil
