// Static files served by the server itself (`--static /static/=DIR`), never reaching the
// application: GET and HEAD, ETag / Last-Modified with If-None-Match / If-Modified-Since (304),
// one byte range (206 / 416), and the body sent with sendfile(2) by the connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "http/types.h"

namespace puff::http {

struct StaticMount {
  std::string url_prefix;  // "/static/" (ends with '/')
  std::string directory;   // absolute
};

// An open file to send; closes it when the last holder lets go.
struct FileSegment {
  int fd = -1;
  std::int64_t offset = 0;
  std::uint64_t remaining = 0;
  FileSegment() = default;
  FileSegment(const FileSegment&) = delete;
  FileSegment& operator=(const FileSegment&) = delete;
  ~FileSegment();
};

struct StaticResponse {
  ResponseHead head;
  std::string body;                    // small bodies (errors)
  std::shared_ptr<FileSegment> file;   // the file part to send, if any
};

// The mount whose prefix the request's path starts with, or nullptr.
const StaticMount* find_static_mount(const std::vector<StaticMount>& mounts,
                                     const RequestHead& request);

// Everything about answering `request` from `mount`: 200/206/304/404/405/416.
StaticResponse answer_static(const StaticMount& mount, const RequestHead& request);

// "bytes=A-B", "bytes=A-", "bytes=-N" against a file of `size` bytes. Returns 1 with
// [*first, *last] set, 0 when the header is absent or not one byte range (serve it all), -1
// when unsatisfiable (416).
int parse_byte_range(const std::string& header, std::uint64_t size, std::uint64_t* first,
                     std::uint64_t* last);

// "text/css; charset=utf-8" for "x.css"; application/octet-stream when unknown.
std::string content_type_for(const std::string& path);

}  // namespace puff::http
