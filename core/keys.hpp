// core/keys.hpp: how a configuration key is described, and a kind's own settings.
//
// A key table is a list of Key<Holder> rows: the key's name, the type of
// value it takes, its range, what a valid value looks like (for messages
// and --help), and where a converted value goes in the holder. The tables
// live with what they configure (config/ for the daemon's sections,
// probes/checks/ for each check kind); config/ turns TOML or environment
// text into a Value of the key's type, checks the range, and calls `set`.
//
// KindSettings holds the settings struct of one kind (a check kind's keys,
// a target kind's keys) by value, type-erased, so that a new kind brings
// its own struct without touching any shared one. Settings structs are
// plain aggregates with a defaulted operator==.
#pragma once

#include <cassert>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>
#include <vector>

#include "core/kinds.hpp"
#include "core/log.hpp"
#include "core/time.hpp"

namespace vigil {

enum class ValueType {
  kDuration,    // "500ms", "5s": Millis
  kCount,       // an integer: int64
  kBool,        // bool
  kName,        // 1 to `max` characters of [A-Za-z0-9_.-]: string
  kPath,        // a non-empty path: string
  kRegex,       // an ECMAScript regular expression: string
  kLogLevel,    // LogLevel
  kText,        // any non-empty string without NUL: string
  kSize,        // "1MiB", "64KiB", or an integer number of bytes: uint64
  kStringList,  // ["a", "b"]: vector<string>
  kStringMap,   // { Name = "value" }: StringPairs
  kStatusList,  // ["200", "200-299", "2xx"]: StatusRanges
  kUrl,         // http:// or https://: string
  kNumber,      // an integer or a float: double
  kPercent,     // "10%", or a number meaning percent: double
  kLimit,       // a number, or a name; kept as text: string
  kSignal,      // "SIGTERM", "TERM", "15": int
  kChoice,      // one of Key::choices: string (an enum field gets the enum)
  kChoiceList,  // a list of Key::choices: vector<string> (or a vector of the enum)
  kCommand,     // ["prog", "arg"] (vector<string>), or one string for a shell (string): the setter decides
};

using StringPairs = std::vector<std::pair<std::string, std::string>>;
using StatusRanges = std::vector<std::pair<int, int>>;  // inclusive
using Value = std::variant<Millis, std::int64_t, bool, std::string, LogLevel, std::vector<std::string>, StringPairs,
                           StatusRanges, std::uint64_t, double, int>;

template <class T>
const T& as(const Value& v) {
  return std::get<T>(v);
}

// The field a converted value lands in: the value's own type, an optional
// of it, a narrower integer, or (kChoice, kChoiceList) a catalogue enum.
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};

template <class T, class X>
void assign_one(T& out, const X& x) {
  if constexpr (std::is_same_v<T, X>) {
    out = x;
  } else if constexpr (Kind<T> && std::is_same_v<X, std::string>) {
    out = *parse_kind<T>(x);  // the converter checked it is one of the choices
  } else if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool> && std::is_arithmetic_v<X> &&
                       !std::is_same_v<X, bool>) {
    out = static_cast<T>(x);
  } else if constexpr (is_vector<T>::value && is_vector<X>::value) {
    out.clear();
    for (const auto& e : x) assign_one(out.emplace_back(), e);
  } else {
    assert(false && "a key's value type does not fit its field");
  }
}

template <class T>
void assign(T& out, const Value& v) {
  std::visit(
      [&out](const auto& x) {
        if constexpr (is_optional<T>::value) {
          typename T::value_type inner{};
          assign_one(inner, x);
          out = std::move(inner);
        } else {
          assign_one(out, x);
        }
      },
      v);
}

// What a key is, whatever it configures.
struct KeyInfo {
  const char* name = "";
  ValueType type = ValueType::kText;
  std::int64_t min = 0;  // ms for durations, bytes for sizes, characters for names
  std::int64_t max = 0;
  const char* valid = "";                          // what a valid value looks like, for messages and --help
  std::span<const std::string_view> choices = {};  // kChoice, kChoiceList
};

// A key, and where its converted value goes in a Holder.
template <class Holder>
struct Key : KeyInfo {
  void (*set)(Holder&, const Value&) = nullptr;
};

inline constexpr std::int64_t kNoMax = INT64_MAX;

template <class M>
struct member_of;
template <class C, class F>
struct member_of<F C::*> {
  using holder = C;
  using field = F;
};

template <class Holder>
Key<Holder> make_key(const char* name, ValueType type, std::int64_t min, std::int64_t max, const char* valid,
                     void (*set)(Holder&, const Value&)) {
  Key<Holder> k;
  k.name = name;
  k.type = type;
  k.min = min;
  k.max = max;
  k.valid = valid;
  k.set = set;
  return k;
}

// A key whose value goes into holder.*Member.
template <auto Member>
Key<typename member_of<decltype(Member)>::holder> field_key(const char* name, ValueType type, std::int64_t min,
                                                            std::int64_t max, const char* valid) {
  using Holder = typename member_of<decltype(Member)>::holder;
  return make_key<Holder>(
      name, type, min, max, valid, +[](Holder& h, const Value& v) { assign(h.*Member, v); });
}

// A key whose value is one of a kind's names.
template <auto Member, Kind E>
Key<typename member_of<decltype(Member)>::holder> choice_key(const char* name, ValueType type, const char* valid) {
  auto k = field_key<Member>(name, type, 0, 0, valid);
  k.choices = kind_names<E>();
  return k;
}

// One kind's settings struct, held by value. Copying copies the struct;
// two are equal when they hold the same type with equal fields.
class KindSettings {
 public:
  KindSettings() = default;
  template <class S>
  static KindSettings of(S settings) {
    KindSettings k;
    k.model_ = std::make_unique<Model<S>>(std::move(settings));
    return k;
  }
  KindSettings(const KindSettings& o) : model_(o.model_ ? o.model_->clone() : nullptr) {}
  KindSettings& operator=(const KindSettings& o) {
    if (this != &o) model_ = o.model_ ? o.model_->clone() : nullptr;
    return *this;
  }
  KindSettings(KindSettings&&) noexcept = default;
  KindSettings& operator=(KindSettings&&) noexcept = default;

  bool empty() const { return !model_; }
  template <class S>
  bool holds() const {
    return model_ && model_->type() == typeid(S);
  }
  template <class S>
  S& as() {
    assert(holds<S>());
    return static_cast<Model<S>&>(*model_).value;
  }
  template <class S>
  const S& as() const {
    assert(holds<S>());
    return static_cast<const Model<S>&>(*model_).value;
  }
  bool operator==(const KindSettings& o) const {
    if (!model_ || !o.model_) return !model_ && !o.model_;
    return model_->equals(*o.model_);
  }

 private:
  struct Concept {
    virtual ~Concept() = default;
    virtual std::unique_ptr<Concept> clone() const = 0;
    virtual bool equals(const Concept& o) const = 0;
    virtual const std::type_info& type() const = 0;
  };
  template <class S>
  struct Model final : Concept {
    explicit Model(S s) : value(std::move(s)) {}
    std::unique_ptr<Concept> clone() const override { return std::make_unique<Model<S>>(value); }
    bool equals(const Concept& o) const override {
      return o.type() == typeid(S) && static_cast<const Model<S>&>(o).value == value;
    }
    const std::type_info& type() const override { return typeid(S); }
    S value;
  };
  std::unique_ptr<Concept> model_;
};

// A key whose value goes into the S of a KindSettings.
template <auto Member, class S = typename member_of<decltype(Member)>::holder>
Key<KindSettings> kind_key(const char* name, ValueType type, std::int64_t min, std::int64_t max, const char* valid) {
  return make_key<KindSettings>(
      name, type, min, max, valid, +[](KindSettings& k, const Value& v) { assign(k.as<S>().*Member, v); });
}

// Where a kind's validation reports what is wrong with its settings, by key.
class KeyProblems {
 public:
  virtual ~KeyProblems() = default;
  // The key has an unusable value (reported where it was written).
  virtual void bad(std::string_view key, std::string message) = 0;
  // A required key is absent (nothing is reported when it was written:
  // its bad value has an error already).
  virtual void missing(std::string_view key, std::string message) = 0;
  // Works, but probably not as meant.
  virtual void warn(std::string_view key, std::string message) = 0;
  // The key was written (in a file or the environment), valid or not.
  virtual bool written(std::string_view key) const = 0;
};

}  // namespace vigil
