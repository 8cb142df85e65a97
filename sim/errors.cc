#include "sim/errors.h"

namespace sim {

const char* errno_name(Errno e) {
  switch (e) {
    case 0: return "OK";
    case EIO: return "EIO";
    case ENOSPC: return "ENOSPC";
    case EINVAL: return "EINVAL";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EADDRINUSE: return "EADDRINUSE";
    case ENOTCONN: return "ENOTCONN";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ESHUTDOWN: return "ESHUTDOWN";
    case ESTALE: return "ESTALE";
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EPERM: return "EPERM";
    case EFBIG: return "EFBIG";
    case ENODATA: return "ENODATA";
    case ERANGE: return "ERANGE";
    case E2BIG: return "E2BIG";
    case ENOLINK: return "ENOLINK";
    case EPROTO: return "EPROTO";
    case ENOMEM: return "ENOMEM";
    case EDEADLK: return "EDEADLK";
    default: return "E?";
  }
}

}  // namespace sim
