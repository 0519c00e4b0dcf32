// Asio, Asio.SSL and Beast are compiled once, here (separate compilation): each TU that includes
// Beast otherwise costs ~30 s on this machine.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
