// Boost.Asio's SSL implementation, compiled once (BOOST_ASIO_SEPARATE_COMPILATION, see
// core/asio_impl.cpp); here because only this component links OpenSSL.
#include <boost/asio/ssl/impl/src.hpp>
