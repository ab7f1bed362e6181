// Boost.Asio is compiled once here (BOOST_ASIO_SEPARATE_COMPILATION) instead of in every
// translation unit that includes it: a large saving on a 2-core build machine.
#include <boost/asio/impl/src.hpp>
