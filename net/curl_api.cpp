#include "net/curl_api.hpp"

#include <dlfcn.h>

#include <cstring>
#include <mutex>

namespace vigil {

namespace {

struct Loaded {
  CurlApi api{};
  bool ok = false;
  std::string error;
};

// dlsym gives an object pointer; copying its bits into the function
// pointer is how POSIX means it to be used.
template <typename F>
bool resolve(void* lib, const char* name, F& out, std::string& error) {
  void* sym = dlsym(lib, name);
  if (sym == nullptr) {
    error = std::string("libcurl.so.4 has no ") + name;
    return false;
  }
  static_assert(sizeof(F) == sizeof(void*));
  std::memcpy(&out, &sym, sizeof out);
  return true;
}

Loaded load() {
  Loaded l;
  void* lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = dlerror();
    l.error = std::string("cannot load libcurl (install libcurl4): ") + (why != nullptr ? why : "unknown error");
    return l;
  }
  CurlApi& a = l.api;
  std::string& e = l.error;
  l.ok =
      resolve(lib, "curl_global_init", a.global_init, e) && resolve(lib, "curl_easy_init", a.easy_init, e) &&
      resolve(lib, "curl_easy_setopt", a.easy_setopt, e) && resolve(lib, "curl_easy_getinfo", a.easy_getinfo, e) &&
      resolve(lib, "curl_easy_cleanup", a.easy_cleanup, e) && resolve(lib, "curl_easy_strerror", a.easy_strerror, e) &&
      resolve(lib, "curl_slist_append", a.slist_append, e) &&
      resolve(lib, "curl_slist_free_all", a.slist_free_all, e) && resolve(lib, "curl_url", a.url, e) &&
      resolve(lib, "curl_url_set", a.url_set, e) && resolve(lib, "curl_url_get", a.url_get, e) &&
      resolve(lib, "curl_url_cleanup", a.url_cleanup, e) && resolve(lib, "curl_url_strerror", a.url_strerror, e) &&
      resolve(lib, "curl_free", a.free, e) && resolve(lib, "curl_multi_init", a.multi_init, e) &&
      resolve(lib, "curl_multi_setopt", a.multi_setopt, e) &&
      resolve(lib, "curl_multi_add_handle", a.multi_add_handle, e) &&
      resolve(lib, "curl_multi_remove_handle", a.multi_remove_handle, e) &&
      resolve(lib, "curl_multi_cleanup", a.multi_cleanup, e) && resolve(lib, "curl_multi_assign", a.multi_assign, e) &&
      resolve(lib, "curl_multi_socket_action", a.multi_socket_action, e) &&
      resolve(lib, "curl_multi_info_read", a.multi_info_read, e);
  if (l.ok && a.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    l.ok = false;
    l.error = "curl_global_init failed";
  }
  return l;
}

}  // namespace

const CurlApi* curl_api(std::string* error) {
  static const Loaded loaded = load();  // thread-safe, once
  if (!loaded.ok) {
    if (error != nullptr) *error = loaded.error;
    return nullptr;
  }
  return &loaded.api;
}

}  // namespace vigil
