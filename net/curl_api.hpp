// net/curl_api.hpp: libcurl, loaded when the first check needs it.
//
// vigild links libcurl's headers, not the library: libcurl4-openssl pulls
// in some thirty shared libraries (OpenSSL, GnuTLS through librtmp,
// Kerberos, LDAP, libssh2...) whose mapping and constructors cost ~6 MiB
// of RSS. A vigild without http or prometheus checks should not pay that,
// so the calls go through this table, filled by dlopen("libcurl.so.4") on
// first use (as systemd does for its optional libraries).
#pragma once

#include <curl/curl.h>

#include <string>

namespace vigil {

struct CurlApi {
  CURLcode (*global_init)(long flags);
  CURL* (*easy_init)();
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  void (*easy_cleanup)(CURL*);
  const char* (*easy_strerror)(CURLcode);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
  CURLU* (*url)();
  CURLUcode (*url_set)(CURLU*, CURLUPart, const char*, unsigned int);
  CURLUcode (*url_get)(const CURLU*, CURLUPart, char**, unsigned int);
  void (*url_cleanup)(CURLU*);
  const char* (*url_strerror)(CURLUcode);
  void (*free)(void*);
  CURLM* (*multi_init)();
  CURLMcode (*multi_setopt)(CURLM*, CURLMoption, ...);
  CURLMcode (*multi_add_handle)(CURLM*, CURL*);
  CURLMcode (*multi_remove_handle)(CURLM*, CURL*);
  CURLMcode (*multi_cleanup)(CURLM*);
  CURLMcode (*multi_assign)(CURLM*, curl_socket_t, void*);
  CURLMcode (*multi_socket_action)(CURLM*, curl_socket_t, int, int*);
  CURLMsg* (*multi_info_read)(CURLM*, int*);
};

// The loaded library (curl_global_init done), or null with `error` set to
// why ("libcurl.so.4: cannot open shared object file ..."). Thread-safe;
// the library stays loaded.
const CurlApi* curl_api(std::string* error = nullptr);

}  // namespace vigil
