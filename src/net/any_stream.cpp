#include "yurt/net/any_stream.hpp"

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>

#include "src/net/streams.hpp"

#include <sys/socket.h>

namespace yurt::net {

std::string to_string(const asio::ip::tcp::endpoint& endpoint) {
  auto host = endpoint.address().to_string();
  if (endpoint.address().is_v6()) {
    host = "[" + host + "]";
  }
  return host + ":" + std::to_string(endpoint.port());
}

bool socket_readable_now(const asio::ip::tcp::socket& socket) {
  if (!socket.is_open()) {
    return true;
  }
  // const_cast: native_handle() is non-const in Asio; recv with MSG_PEEK changes nothing.
  int fd = const_cast<asio::ip::tcp::socket&>(socket).native_handle();
  char byte = 0;
  auto n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) {
    return errno != EAGAIN && errno != EWOULDBLOCK;
  }
  return true;  // data (unexpected on a quiet connection) or EOF
}

namespace {

class TcpStream final : public AnyStream::Impl {
 public:
  explicit TcpStream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}

  AnyStream::executor_type get_executor() override { return socket_.get_executor(); }
  void async_read_some(detail::MutableBuffers buffers, AnyStream::IoHandler handler) override {
    socket_.async_read_some(buffers, std::move(handler));
  }
  void async_write_some(detail::ConstBuffers buffers, AnyStream::IoHandler handler) override {
    socket_.async_write_some(buffers, std::move(handler));
  }
  void async_shutdown_send(AnyStream::ShutdownHandler handler) override {
    boost::system::error_code ec;
    socket_.shutdown(asio::socket_base::shutdown_send, ec);
    asio::post(socket_.get_executor(), asio::append(std::move(handler), ec));
  }
  void close() noexcept override {
    boost::system::error_code ec;
    socket_.close(ec);
  }
  [[nodiscard]] bool is_open() const noexcept override { return socket_.is_open(); }
  [[nodiscard]] std::string remote_endpoint() const override {
    boost::system::error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    return ec ? std::string() : to_string(ep);
  }
  [[nodiscard]] bool readable_while_idle() const override { return socket_readable_now(socket_); }

 private:
  asio::ip::tcp::socket socket_;
};

// ---- in-memory pipe ----

using WorkExecutor =
    decltype(asio::prefer(std::declval<Executor>(), asio::execution::outstanding_work.tracked));

struct PendingRead {
  detail::MutableBuffers buffers;
  AnyStream::IoHandler handler;
  WorkExecutor work;  // keeps run() from returning while a read waits
  std::uint64_t id = 0;
};

// One direction of the pipe: written by one end, read by the other.
struct Direction {
  std::string data;
  std::size_t pos = 0;
  bool eof = false;            // writer shut down or closed
  bool reader_closed = false;  // reader closed: writes fail
  std::optional<PendingRead> pending;
};

struct PipeShared {
  explicit PipeShared(Executor e) : ex(std::move(e)) {}
  Executor ex;
  Direction dirs[2];
  std::uint64_t next_id = 1;
};

void complete(PendingRead read, boost::system::error_code ec, std::size_t n) {
  // post() runs the handler on its associated executor; `work` only keeps the context busy.
  asio::post(read.work, asio::append(std::move(read.handler), ec, n));
}

// Completes a waiting read from what `d` holds, if it can be completed now.
void try_complete(Direction& d) {
  if (!d.pending) {
    return;
  }
  if (d.pos < d.data.size()) {
    std::size_t total = 0;
    for (const auto& b : d.pending->buffers) {
      auto n = asio::buffer_copy(b, asio::buffer(d.data.data() + d.pos, d.data.size() - d.pos));
      d.pos += n;
      total += n;
    }
    if (d.pos == d.data.size()) {
      d.data.clear();
      d.pos = 0;
    }
    auto read = std::move(*d.pending);
    d.pending.reset();
    asio::get_associated_cancellation_slot(read.handler).clear();
    complete(std::move(read), {}, total);
  } else if (d.eof) {
    auto read = std::move(*d.pending);
    d.pending.reset();
    asio::get_associated_cancellation_slot(read.handler).clear();
    complete(std::move(read), asio::error::eof, 0);
  }
}

class PipeEnd final : public AnyStream::Impl {
 public:
  PipeEnd(std::shared_ptr<PipeShared> shared, int side) : shared_(std::move(shared)), side_(side) {}
  ~PipeEnd() override { close(); }

  AnyStream::executor_type get_executor() override { return shared_->ex; }

  void async_read_some(detail::MutableBuffers buffers, AnyStream::IoHandler handler) override {
    auto work = asio::prefer(shared_->ex, asio::execution::outstanding_work.tracked);
    if (!open_) {
      complete(PendingRead{buffers, std::move(handler), work, 0}, asio::error::bad_descriptor, 0);
      return;
    }
    Direction& in = shared_->dirs[side_];
    if (buffers.count() == 0) {
      complete(PendingRead{buffers, std::move(handler), work, 0}, {}, 0);
      return;
    }
    auto id = shared_->next_id++;
    auto slot = asio::get_associated_cancellation_slot(handler);
    in.pending.emplace(PendingRead{buffers, std::move(handler), work, id});
    if (slot.is_connected()) {
      slot.assign([shared = shared_, side = side_, id](asio::cancellation_type) {
        Direction& d = shared->dirs[side];
        if (d.pending && d.pending->id == id) {
          auto read = std::move(*d.pending);
          d.pending.reset();
          complete(std::move(read), asio::error::operation_aborted, 0);
        }
      });
    }
    try_complete(in);
  }

  void async_write_some(detail::ConstBuffers buffers, AnyStream::IoHandler handler) override {
    auto work = asio::prefer(shared_->ex, asio::execution::outstanding_work.tracked);
    Direction& out = shared_->dirs[1 - side_];
    boost::system::error_code ec;
    std::size_t total = 0;
    if (!open_) {
      ec = asio::error::bad_descriptor;
    } else if (out.reader_closed || out.eof) {
      ec = asio::error::broken_pipe;
    } else {
      for (const auto& b : buffers) {
        out.data.append(static_cast<const char*>(b.data()), b.size());
        total += b.size();
      }
      try_complete(out);
    }
    complete(PendingRead{{}, std::move(handler), work, 0}, ec, total);
  }

  void async_shutdown_send(AnyStream::ShutdownHandler handler) override {
    boost::system::error_code ec;
    if (!open_) {
      ec = asio::error::bad_descriptor;
    } else {
      Direction& out = shared_->dirs[1 - side_];
      out.eof = true;
      try_complete(out);
    }
    asio::post(shared_->ex, asio::append(std::move(handler), ec));
  }

  void close() noexcept override {
    if (!open_) {
      return;
    }
    open_ = false;
    Direction& in = shared_->dirs[side_];
    in.reader_closed = true;
    in.data.clear();
    in.pos = 0;
    if (in.pending) {
      auto read = std::move(*in.pending);
      in.pending.reset();
      asio::get_associated_cancellation_slot(read.handler).clear();
      complete(std::move(read), asio::error::operation_aborted, 0);
    }
    Direction& out = shared_->dirs[1 - side_];
    out.eof = true;  // like a FIN: the peer reads what is buffered, then EOF
    try_complete(out);
  }

  [[nodiscard]] bool is_open() const noexcept override { return open_; }
  [[nodiscard]] std::string remote_endpoint() const override { return "pipe"; }

 private:
  std::shared_ptr<PipeShared> shared_;
  int side_;
  bool open_ = true;
};

}  // namespace

AnyStream make_tcp_stream(asio::ip::tcp::socket socket) {
  return AnyStream(std::make_unique<TcpStream>(std::move(socket)));
}

std::pair<AnyStream, AnyStream> make_pipe(Executor ex) {
  auto shared = std::make_shared<PipeShared>(std::move(ex));
  return {AnyStream(std::make_unique<PipeEnd>(shared, 0)),
          AnyStream(std::make_unique<PipeEnd>(shared, 1))};
}

}  // namespace yurt::net
