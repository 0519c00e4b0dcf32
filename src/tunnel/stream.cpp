#include "yurt/tunnel/stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "yurt/tunnel/errc.hpp"

#include "src/tunnel/session_core.hpp"

namespace yurt::tunnel {

namespace asio = boost::asio;

namespace {
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
}  // namespace

std::string_view to_string(StreamState state) noexcept {
  switch (state) {
    case StreamState::Opening:
      return "Opening";
    case StreamState::Pending:
      return "Pending";
    case StreamState::Open:
      return "Open";
    case StreamState::HalfClosedLocal:
      return "HalfClosedLocal";
    case StreamState::HalfClosedRemote:
      return "HalfClosedRemote";
    case StreamState::Closed:
      return "Closed";
    case StreamState::Reset:
      return "Reset";
    case StreamState::Refused:
      return "Refused";
  }
  return "?";
}

Stream::Stream(std::shared_ptr<detail::SessionCore> session,
               std::shared_ptr<detail::StreamCore> core)
    : session_(std::move(session)), core_(std::move(core)) {}

Stream& Stream::operator=(Stream&& other) noexcept {
  if (this != &other) {
    close();
    session_ = std::move(other.session_);
    core_ = std::move(other.core_);
  }
  return *this;
}

Stream::~Stream() {
  close();
}

std::uint32_t Stream::id() const noexcept {
  return core_ ? core_->id : 0;
}

const std::string& Stream::destination() const noexcept {
  static const std::string kNone;
  return core_ ? core_->destination : kNone;
}

StreamState Stream::state() const noexcept {
  return core_ ? core_->state : StreamState::Reset;
}

const Error& Stream::error() const noexcept {
  static const Error kNone;
  return core_ ? core_->error : kNone;
}

std::size_t Stream::buffered() const noexcept {
  return core_ ? core_->rx_bytes : 0;
}

std::int64_t Stream::send_window() const noexcept {
  return core_ ? core_->send_window : 0;
}

Result<void> Stream::accept() {
  if (!core_) {
    return fail(Errc::InvalidArgument, "accept() on an empty stream");
  }
  return session_->accept(core_);
}

void Stream::refuse(WireCode code, std::string message) {
  if (core_) {
    session_->refuse(core_, code, std::move(message));
  }
}

void Stream::reset(WireCode code, std::string message) {
  if (core_) {
    session_->local_reset(core_, code, std::move(message));
  }
}

Stream::executor_type Stream::get_executor() const {
  return session_->ex;
}

void Stream::close() noexcept {
  if (core_) {
    session_->close_stream(core_);
  }
}

bool Stream::is_open() const noexcept {
  return core_ && !core_->handle_closed;
}

void Stream::start_read(net::detail::MutableBuffers buffers, net::AnyStream::IoHandler handler) {
  session_->start_read(core_, buffers, std::move(handler));
}

void Stream::start_write(net::detail::ConstBuffers buffers, net::AnyStream::IoHandler handler) {
  session_->start_write(core_, buffers, std::move(handler));
}

void Stream::start_shutdown(net::AnyStream::ShutdownHandler handler) {
  session_->start_shutdown(core_, std::move(handler));
}

namespace {

using detail::ErrorCode;
using SessionPtr = std::shared_ptr<detail::SessionCore>;
using CorePtr = std::shared_ptr<detail::StreamCore>;

Error result_error(const CorePtr& st, const ErrorCode& ec) {
  if (st->error.code()) {
    return st->error;
  }
  return Error(std::error_code(ec), "stream " + std::to_string(st->id) + " to " + st->destination);
}

// Free coroutines holding the stream's state by value: moving or destroying the Stream object
// while one waits cannot leave it dangling.
asio::awaitable<Result<std::size_t>> read_some_impl(SessionPtr s,
                                                    CorePtr st,
                                                    asio::mutable_buffer buffer) {
  auto [ec, n] = co_await asio::async_initiate<decltype(kUse), void(ErrorCode, std::size_t)>(
      [&](auto handler) {
        s->start_read(st, net::detail::MutableBuffers(buffer),
                      detail::IoHandler(std::move(handler)));
      },
      kUse);
  if (ec == asio::error::eof) {
    co_return std::size_t{0};
  }
  if (ec) {
    co_return result_error(st, ec);
  }
  co_return n;
}

asio::awaitable<Result<void>> write_impl(SessionPtr s, CorePtr st, std::string_view data) {
  while (!data.empty()) {
    auto [ec, n] = co_await asio::async_initiate<decltype(kUse), void(ErrorCode, std::size_t)>(
        [&](auto handler) {
          s->start_write(st, net::detail::ConstBuffers(asio::buffer(data)),
                         detail::IoHandler(std::move(handler)));
        },
        kUse);
    if (ec) {
      co_return result_error(st, ec);
    }
    data.remove_prefix(n);
  }
  co_return Result<void>{};
}

asio::awaitable<Result<void>> shutdown_impl(SessionPtr s, CorePtr st) {
  auto [ec] = co_await asio::async_initiate<decltype(kUse), void(ErrorCode)>(
      [&](auto handler) { s->start_shutdown(st, detail::ShutdownHandler(std::move(handler))); },
      kUse);
  if (ec) {
    co_return result_error(st, ec);
  }
  co_return Result<void>{};
}

}  // namespace

asio::awaitable<Result<std::size_t>> Stream::read_some(asio::mutable_buffer buffer) {
  return read_some_impl(session_, core_, buffer);
}

asio::awaitable<Result<void>> Stream::write(std::string_view data) {
  return write_impl(session_, core_, data);
}

asio::awaitable<Result<void>> Stream::shutdown_send() {
  return shutdown_impl(session_, core_);
}

}  // namespace yurt::tunnel
