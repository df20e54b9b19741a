// Swift-facing shim over c-ares 1.18.1 (Debian bookworm's libc-ares-dev).
//
// The system headers come first, as in CLiburing, so Swift's importer sees complete socket types.
#ifndef RINGWAY_CARES_SHIM_H
#define RINGWAY_CARES_SHIM_H

#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <ares.h>

// Option and flag masks, typed (some are built from shifts Swift may not import).
static const int ringway_ARES_OPT_FLAGS = ARES_OPT_FLAGS;
static const int ringway_ARES_OPT_TRIES = ARES_OPT_TRIES;
static const int ringway_ARES_OPT_SOCK_STATE_CB = ARES_OPT_SOCK_STATE_CB;
static const int ringway_ARES_OPT_TIMEOUTMS = ARES_OPT_TIMEOUTMS;
static const int ringway_ARES_AI_NOSORT = ARES_AI_NOSORT;
static const int ringway_ARES_LIB_INIT_ALL = ARES_LIB_INIT_ALL;
static const int ringway_ARES_SOCKET_BAD = ARES_SOCKET_BAD;

#endif
