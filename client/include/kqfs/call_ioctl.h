/*
 * One kevent(2) call in one request: an ioctl on a kq/clone handle
 * (docs/design.md#one-kevent-call-one-request).
 *
 * The argument is an array of 32-byte slots whose count is part of the
 * command (KQFS_IOC_CALL(slots)), so the kernel copies exactly that much in
 * and out. In: a struct kqfs_call, then `nchanges` binary records (the
 * layout of struct kevent). Out: a struct kqfs_call_result, then its
 * entries. Plain C, so that any language with ioctl(2) can use it.
 */
#ifndef KQFS_CALL_IOCTL_H
#define KQFS_CALL_IOCTL_H

#include <linux/ioctl.h>
#include <stdint.h>

#define KQFS_CALL_MAGIC 0x6366716bu        /* "kqfc" in memory */
#define KQFS_CALL_RESULT_MAGIC 0x7266716bu /* "kqfr" in memory */

#define KQFS_CALL_SLOT 32
/* A command carries at most 14 bits of size: the header and 510 records. */
#define KQFS_CALL_MAX_SLOTS 511
#define KQFS_CALL_MAX_RECORDS (KQFS_CALL_MAX_SLOTS - 1)
#define KQFS_CALL_TYPE 0xB7
#define KQFS_CALL_NUMBER 0x4B
#define KQFS_IOC_CALL(slots) \
  _IOC(_IOC_READ | _IOC_WRITE, KQFS_CALL_TYPE, KQFS_CALL_NUMBER, (slots)*KQFS_CALL_SLOT)

/* kqfs_call.flags */
#define KQFS_CALL_TIMEOUT 0x1 /* wait at most timeout_sec/_nsec; else without limit */
#define KQFS_CALL_CHANGES_ONLY \
  0x2 /* apply and report, never collect: part of a longer changelist */

struct kqfs_call {
  uint32_t magic;   /* KQFS_CALL_MAGIC */
  uint32_t flags;   /* KQFS_CALL_* */
  int32_t nchanges; /* records after this header */
  int32_t nevents;  /* room for entries; at most the slots after the header */
  int64_t timeout_sec;
  int64_t timeout_nsec;
};

/* kqfs_call_result.status */
#define KQFS_CALL_DONE 0
/* The caller's process closed a descriptor of the handle while the call
 * waited: check that the descriptor still names `handle` (fstat st_ino),
 * then call again with the time left. */
#define KQFS_CALL_RECHECK 1

struct kqfs_call_result {
  uint32_t magic;    /* KQFS_CALL_RESULT_MAGIC */
  uint32_t status;   /* KQFS_CALL_DONE or KQFS_CALL_RECHECK */
  int32_t entries;   /* kevent()'s result; -1: failed with `error` */
  int32_t error;     /* the errno when entries is -1 */
  int32_t processed; /* changes taken, applied or reported */
  uint32_t reserved;
  uint64_t handle; /* the handle's inode (st_ino) */
};

#endif /* KQFS_CALL_IOCTL_H */
