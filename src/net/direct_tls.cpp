#include "src/net/direct_tls.hpp"

#include <cerrno>
#include <new>
#include <type_traits>
#include <utility>

#include <boost/asio/compose.hpp>
#include <boost/asio/ssl/error.hpp>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "src/net/streams.hpp"
#include "src/net/tls_internal.hpp"

#include <sys/socket.h>
#include <sys/types.h>

namespace yurt::net {

struct DirectTlsStream::Access {
  static SSL* ssl(DirectTlsStream& s) noexcept { return s.ssl_; }
  static BioState& bio(DirectTlsStream& s) noexcept { return s.bio_; }
  static asio::ip::tcp::socket& socket(DirectTlsStream& s) noexcept { return s.socket_; }
};

namespace {

using boost::system::error_code;

// A socket BIO of our own: OpenSSL's writes with write(2), which raises SIGPIPE on a reset
// connection and kills a process that has not ignored it (tests, benchmarks, embedders).
// send(MSG_NOSIGNAL) turns that into EPIPE like every other socket write of ours.
int bio_write(BIO* bio, const char* data, int size) {
  auto* state = static_cast<DirectTlsStream::BioState*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  // Behind records not yet sent (a write waiting for the socket), nothing may overtake them.
  if (state->corked || state->sent < state->pending.size()) {
    state->pending.append(data, static_cast<std::size_t>(size));
    return size;
  }
  ssize_t n = ::send(state->fd, data, static_cast<std::size_t>(size), MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_write(bio);
  }
  return static_cast<int>(n);
}

int bio_read(BIO* bio, char* data, int size) {
  auto* state = static_cast<DirectTlsStream::BioState*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  ssize_t n = ::recv(state->fd, data, static_cast<std::size_t>(size), 0);
  if (n == 0) {
    state->eof = true;
  } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_read(bio);
  }
  return static_cast<int>(n);
}

long bio_ctrl(BIO* bio, int cmd, long /*num*/, void* /*ptr*/) {
  auto* state = static_cast<DirectTlsStream::BioState*>(BIO_get_data(bio));
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;  // nothing buffered here
    case BIO_CTRL_EOF:
      return state != nullptr && state->eof ? 1 : 0;  // tells a truncation from an error
    default:
      return 0;
  }
}

int bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

// Built once per process; OpenSSL keeps it until exit.
const BIO_METHOD* socket_bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "yurt socket");
    if (m == nullptr) {
      throw std::bad_alloc();
    }
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    return m;
  }();
  return method;
}

enum class Kind { Handshake, Read, Write, Shutdown };

// With read-ahead, one recv(2) takes up to this much (four full records and their overhead).
constexpr std::size_t kReadAheadBytes = 4 * (16 * 1024 + 256);
// A write encodes records until this much is waiting, then sends it at once: above a 64 KiB
// write and its framing (the tunnel's batches), so a batch is one send, not a send and a crumb.
constexpr std::size_t kCoalesceBytes = 96 * 1024;

// What a failed SSL_* call means, in the error codes Asio's ssl::stream reports.
error_code failure(int ssl_error, int sys_errno) {
  if (ssl_error == SSL_ERROR_ZERO_RETURN) {
    return asio::error::eof;  // the peer's close_notify
  }
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (ssl_error == SSL_ERROR_SYSCALL) {
    if (sys_errno != 0) {
      return {sys_errno, boost::system::system_category()};  // connection_reset, broken_pipe
    }
    if (e == 0) {
      return asio::ssl::error::stream_truncated;
    }
  }
  if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    return asio::ssl::error::stream_truncated;  // TCP FIN without close_notify (OpenSSL 3)
  }
  if (e == 0) {
    return asio::error::fault;  // OpenSSL failed without saying why; should not happen
  }
  return {static_cast<int>(e), asio::error::get_ssl_category()};
}

// One OpenSSL call retried until it succeeds or fails for good; on WANT_READ / WANT_WRITE it
// waits for the socket to become readable / writable. OpenSSL requires a retried SSL_write to
// see the same bytes: `write` stays fixed for the operation's life.
template <Kind K>
class SslOp {
 public:
  SslOp(DirectTlsStream& stream, asio::mutable_buffer read, asio::const_buffer write)
      : stream_(&stream), read_(read), write_(write) {}

  template <class Self>
  void operator()(Self& self, error_code wait_ec = {}) {
    if (finished_) {
      return finish(self);
    }
    const bool first = !started_;
    started_ = true;
    if (first) {
      // Any cancellation type is safe: an interrupted wait leaves OpenSSL's state as it was, and
      // bytes it had already taken off the socket stay in its buffer for the next read.
      self.reset_cancellation_state(asio::enable_total_cancellation());
    }
    if (wait_ec) {
      result_ = wait_ec;  // operation_aborted after close() or cancellation
      return finish(self);
    }
    auto& socket = DirectTlsStream::Access::socket(*stream_);
    if (!socket.is_open()) {
      // The descriptor number may already belong to another socket: never hand it to OpenSSL.
      result_ = asio::error::bad_descriptor;
    } else if (attempt(self)) {
      return;  // waiting for the socket
    }
    if (first) {
      // Completing inside the initiating call would run the caller's handler re-entrantly.
      finished_ = true;
      auto ex = socket.get_executor();
      return asio::post(ex, std::move(self));
    }
    finish(self);
  }

 private:
  // Returns true when it started a wait; otherwise result_ and bytes_ are final.
  template <class Self>
  bool attempt(Self& self) {
    if (!encoded_ && encode(self)) {
      return true;
    }
    if constexpr (K == Kind::Write || K == Kind::Shutdown) {
      if (encoded_) {
        return flush(self);
      }
    }
    return false;
  }

  // The OpenSSL call; true when it started a wait. A write or shutdown only encodes here (the
  // BIO is corked): flush() sends the records.
  template <class Self>
  bool encode(Self& self) {
    SSL* ssl = DirectTlsStream::Access::ssl(*stream_);
    auto& bio = DirectTlsStream::Access::bio(*stream_);
    ERR_clear_error();
    errno = 0;
    int r = 0;
    if constexpr (K == Kind::Handshake) {
      r = SSL_do_handshake(ssl);
    } else if constexpr (K == Kind::Read) {
      if (read_.size() == 0) {
        return false;
      }
      std::size_t n = 0;
      r = SSL_read_ex(ssl, read_.data(), read_.size(), &n);
      if (r > 0) {
        // Records already read ahead go out in this completion, not one resumption each. A
        // failure here (close_notify, an alert) is sticky: the next read reports it.
        auto* data = static_cast<char*>(read_.data());
        std::size_t more = 0;
        while (n < read_.size() && SSL_has_pending(ssl) == 1 &&
               SSL_read_ex(ssl, data + n, read_.size() - n, &more) == 1) {
          n += more;
        }
        ERR_clear_error();
        bytes_ = n;
      }
    } else if constexpr (K == Kind::Write) {
      if (write_.size() == 0) {
        return false;
      }
      const auto* data = static_cast<const char*>(write_.data());
      std::size_t n = 0;
      bio.corked = true;
      while (n < write_.size() && (n == 0 || bio.pending.size() < kCoalesceBytes)) {
        std::size_t record = 0;  // one record per call (SSL_MODE_ENABLE_PARTIAL_WRITE)
        r = SSL_write_ex(ssl, data + n, write_.size() - n, &record);
        if (r <= 0) {
          break;
        }
        n += record;
      }
      bio.corked = false;
      if (n > 0) {
        r = 1;  // a failure after some records: reported by the next write
        bytes_ = n;
      }
    } else {
      // A half-close sends close_notify and must not read the peer's: that would consume
      // application data the pending read is waiting for. Claiming the peer's close_notify
      // already arrived makes SSL_shutdown only write; the flag is restored at once.
      int before = SSL_get_shutdown(ssl);
      SSL_set_shutdown(ssl, before | SSL_RECEIVED_SHUTDOWN);
      bio.corked = true;
      r = SSL_shutdown(ssl);
      bio.corked = false;
      SSL_set_shutdown(
          ssl, (SSL_get_shutdown(ssl) & ~SSL_RECEIVED_SHUTDOWN) | (before & SSL_RECEIVED_SHUTDOWN));
    }
    const int sys_errno = errno;
    if (r > 0) {
      encoded_ = true;
      return false;
    }
    const int err = SSL_get_error(ssl, r);
    auto& socket = DirectTlsStream::Access::socket(*stream_);
    if (err == SSL_ERROR_WANT_READ) {
      socket.async_wait(asio::socket_base::wait_read, std::move(self));
      return true;
    }
    if (err == SSL_ERROR_WANT_WRITE) {
      socket.async_wait(asio::socket_base::wait_write, std::move(self));
      return true;
    }
    result_ = failure(err, sys_errno);
    if constexpr (K == Kind::Write || K == Kind::Shutdown) {
      // This write is over; an alert OpenSSL queued is not worth a wait. (A failed read leaves
      // the records of a concurrent write alone: its peer's close_notify ends only reading.)
      drop_pending(bio);
    }
    return false;
  }

  // Sends the corked records with as few send(2) calls as the socket takes; true when it
  // started a wait for the socket to become writable.
  template <class Self>
  bool flush(Self& self) {
    auto& bio = DirectTlsStream::Access::bio(*stream_);
    while (bio.sent < bio.pending.size()) {
      const ssize_t n = ::send(bio.fd, bio.pending.data() + bio.sent, bio.pending.size() - bio.sent,
                               MSG_NOSIGNAL);
      if (n >= 0) {
        bio.sent += static_cast<std::size_t>(n);
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        DirectTlsStream::Access::socket(*stream_).async_wait(asio::socket_base::wait_write,
                                                             std::move(self));
        return true;
      } else if (errno != EINTR) {
        result_ = error_code(errno, boost::system::system_category());
        bytes_ = 0;
        break;
      }
    }
    drop_pending(bio);
    return false;
  }

  static void drop_pending(DirectTlsStream::BioState& bio) {
    // A quiet connection keeps no buffer (the point of this stream: idle agents).
    std::string().swap(bio.pending);
    bio.sent = 0;
  }

  template <class Self>
  void finish(Self& self) {
    if constexpr (K == Kind::Read || K == Kind::Write) {
      self.complete(result_, bytes_);
    } else {
      self.complete(result_);
    }
  }

  DirectTlsStream* stream_;
  asio::mutable_buffer read_;
  asio::const_buffer write_;
  bool started_ = false;
  bool finished_ = false;
  bool encoded_ = false;  // the OpenSSL call succeeded; a write or shutdown may still be sending
  error_code result_;
  std::size_t bytes_ = 0;
};

template <Kind K, class Handler>
void start(DirectTlsStream& stream,
           Handler handler,
           asio::mutable_buffer read = {},
           asio::const_buffer write = {}) {
  using Signature = std::conditional_t<K == Kind::Read || K == Kind::Write,
                                       void(error_code, std::size_t), void(error_code)>;
  asio::async_compose<Handler, Signature>(SslOp<K>(stream, read, write), handler,
                                          DirectTlsStream::Access::socket(stream));
}

}  // namespace

DirectTlsStream::DirectTlsStream(asio::ip::tcp::socket socket,
                                 std::shared_ptr<asio::ssl::context> context,
                                 Role role)
    : context_(std::move(context)), socket_(std::move(socket)) {
  ssl_ = SSL_new(context_->native_handle());
  if (ssl_ == nullptr) {
    throw std::bad_alloc();  // SSL_new fails only for memory
  }
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  bio_.fd = socket_.native_handle();
  BIO* bio = BIO_new(socket_bio_method());
  if (bio == nullptr) {
    SSL_free(ssl_);
    throw std::bad_alloc();
  }
  BIO_set_data(bio, &bio_);
  SSL_set_bio(ssl_, bio, bio);  // the SSL owns the BIO; the socket keeps the descriptor
  // write_some semantics: a write completes after one record; a retried write may see its
  // buffer at another address (AnyStream copies buffer descriptors, never the bytes).
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                         SSL_MODE_RELEASE_BUFFERS);
  // Read whole socket buffers, not a 5-byte header and then the record: half the syscalls; up to
  // four full records per recv (the buffer exists only while data flows: RELEASE_BUFFERS).
  SSL_set_read_ahead(ssl_, 1);
  SSL_set_default_read_buffer_len(ssl_, kReadAheadBytes);
  if (role == Role::Server) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
  }
}

DirectTlsStream::~DirectTlsStream() {
  SSL_free(ssl_);
}

void DirectTlsStream::start_handshake(AnyStream::ShutdownHandler handler) {
  start<Kind::Handshake>(*this, std::move(handler));
}

void DirectTlsStream::async_read_some(detail::MutableBuffers buffers,
                                      AnyStream::IoHandler handler) {
  // One record per call at most anyway: the first buffer is enough.
  asio::mutable_buffer first = buffers.count() != 0 ? *buffers.begin() : asio::mutable_buffer();
  start<Kind::Read>(*this, std::move(handler), first);
}

void DirectTlsStream::async_write_some(detail::ConstBuffers buffers, AnyStream::IoHandler handler) {
  asio::const_buffer first = buffers.count() != 0 ? *buffers.begin() : asio::const_buffer();
  start<Kind::Write>(*this, std::move(handler), {}, first);
}

void DirectTlsStream::async_shutdown_send(AnyStream::ShutdownHandler handler) {
  start<Kind::Shutdown>(*this, std::move(handler));
}

void DirectTlsStream::close() noexcept {
  boost::system::error_code ec;
  socket_.close(ec);
}

std::optional<TlsSessionInfo> DirectTlsStream::tls() const {
  return session_info(ssl_);
}

std::string DirectTlsStream::remote_endpoint() const {
  boost::system::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  return ec ? std::string() : to_string(ep);
}

bool DirectTlsStream::readable_while_idle() const {
  return SSL_has_pending(ssl_) == 1 || socket_readable_now(socket_);
}

}  // namespace yurt::net
