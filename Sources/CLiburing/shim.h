// Swift-facing shim over liburing 2.3.
//
// The system headers come first: liburing.h defines _GNU_SOURCE, and including it before
// sys/select.h leaves fd_set incomplete for Swift's importer.
#ifndef RINGWAY_CLIBURING_SHIM_H
#define RINGWAY_CLIBURING_SHIM_H

#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <fcntl.h>
#include <sched.h>
#include <time.h>
#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <liburing.h>

// Swift does not import the IOSQE_* flag macros (they are built from an enum); expose them typed.
static const unsigned char ringway_IOSQE_IO_LINK = IOSQE_IO_LINK;
static const unsigned char ringway_IOSQE_BUFFER_SELECT = IOSQE_BUFFER_SELECT;
static const unsigned char ringway_IOSQE_CQE_SKIP_SUCCESS = IOSQE_CQE_SKIP_SUCCESS;

// fcntl.h and unistd.h show these only under _GNU_SOURCE (see below); values from the kernel's
// uapi headers.
static const unsigned int ringway_SPLICE_F_MOVE = 0x01;
static const unsigned int ringway_SPLICE_F_NONBLOCK = 0x02;
static const int ringway_F_SETPIPE_SZ = 1031;  // F_LINUX_SPECIFIC_BASE + 7
extern int pipe2(int pipefd[2], int flags);
extern int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);
extern int pthread_setname_np(pthread_t thread, const char *name);

// `struct io_uring_buf_ring` overlays its tail with the first buffer's reserved field through an
// anonymous union of a struct and a flexible array; Swift cannot name that layout, so these
// helpers keep all access to it in C.
static inline void ringway_buf_ring_init(struct io_uring_buf_ring *br) { io_uring_buf_ring_init(br); }
static inline void ringway_buf_ring_add(struct io_uring_buf_ring *br, void *addr, unsigned int len,
                                        unsigned short bid, int mask, int offset) {
    io_uring_buf_ring_add(br, addr, len, bid, mask, offset);
}
static inline void ringway_buf_ring_advance(struct io_uring_buf_ring *br, int count) {
    io_uring_buf_ring_advance(br, count);
}

// glibc 2.32+: "ECONNREFUSED" and "Connection refused", both thread-safe (strerror is not).
// Declared here because string.h shows them only under _GNU_SOURCE, which must not be defined
// before the system headers (Swift's Glibc module sees them without it).
extern const char *strerrorname_np(int errnum);
extern const char *strerrordesc_np(int errnum);
static inline const char *ringway_errno_name(int code) { return strerrorname_np(code); }
static inline const char *ringway_errno_text(int code) { return strerrordesc_np(code); }

// Passing descriptors over a Unix socket (SCM_RIGHTS): the CMSG_* helpers are macros, which
// Swift does not import, and struct ucred is shown only under _GNU_SOURCE.
static inline size_t ringway_cmsg_space(size_t length) { return CMSG_SPACE(length); }
static inline size_t ringway_cmsg_len(size_t length) { return CMSG_LEN(length); }
static inline struct cmsghdr *ringway_cmsg_firsthdr(struct msghdr *message) { return CMSG_FIRSTHDR(message); }
static inline struct cmsghdr *ringway_cmsg_nxthdr(struct msghdr *message, struct cmsghdr *header) {
    return CMSG_NXTHDR(message, header);
}
static inline unsigned char *ringway_cmsg_data(struct cmsghdr *header) { return CMSG_DATA(header); }
struct ringway_ucred { pid_t pid; uid_t uid; gid_t gid; };
static const int ringway_SO_PEERCRED = 17;
static const int ringway_MSG_CMSG_CLOEXEC = 0x40000000;

#endif
