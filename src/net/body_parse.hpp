#pragma once

// Reading a streamed body into a fixed piece (buffer_body): after a read, the chunks already
// received are parsed into the same piece without further I/O.

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/system/error_code.hpp>

namespace yurt::net::detail {

/// Parses bytes already in `buffer` into the room left in the parser's buffer_body, stopping
/// where more input would be needed. A chunked body arrives as many small chunks (the apiserver
/// writes a LIST in ~2 KiB chunks) and Beast's read_some stops after each one: without this, a
/// 3 MB LIST is 1500 pieces, each a proxy write and a client wake-up. Beast's eager mode is not
/// the answer: after a chunk whose next header is still partial it waits for more input, which
/// would hold a watch event until the next one arrives.
template <class Parser>
boost::system::error_code parse_buffered(Parser& parser, boost::beast::flat_buffer& buffer) {
  namespace http = boost::beast::http;
  while (buffer.size() > 0 && !parser.is_done() && parser.get().body().size > 0) {
    boost::system::error_code ec;
    const auto used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == http::error::need_more || ec == http::error::need_buffer) {
      return {};
    }
    if (ec || used == 0) {
      return ec;
    }
  }
  return {};
}

}  // namespace yurt::net::detail
