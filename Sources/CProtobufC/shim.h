// The C boundary for protobuf-c: its header plus the few inline helpers that
// Swift cannot express directly (a ProtobufCBuffer that streams to a file).
#ifndef CLEAVE_PROTOBUF_C_SHIM_H
#define CLEAVE_PROTOBUF_C_SHIM_H
#include <protobuf-c/protobuf-c.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/// A ProtobufCBuffer that writes to a file descriptor through a staging
/// buffer; appends larger than the stage (tensor payloads) go straight to
/// write(2), so packing a model never holds a second copy of its weights.
typedef struct {
  ProtobufCBuffer base;
  int fd;
  int error;            // errno of the first failed write, 0 if none
  uint8_t *stage;
  size_t used;
  size_t capacity;
  uint64_t written;     // bytes handed to write(2) so far
} cleave_fd_buffer;

static inline int cleave_write_all(int fd, const uint8_t *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len > (1u << 30) ? (1u << 30) : len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

static inline void cleave_fd_buffer_flush(cleave_fd_buffer *b) {
  if (b->error == 0 && b->used > 0) {
    b->error = cleave_write_all(b->fd, b->stage, b->used);
    b->written += b->used;
  }
  b->used = 0;
}

static inline void cleave_fd_buffer_append(ProtobufCBuffer *base, size_t len, const uint8_t *data) {
  cleave_fd_buffer *b = (cleave_fd_buffer *)base;
  if (b->error != 0) return;
  if (b->used + len <= b->capacity) {
    memcpy(b->stage + b->used, data, len);
    b->used += len;
    return;
  }
  cleave_fd_buffer_flush(b);
  if (len <= b->capacity) {
    memcpy(b->stage, data, len);
    b->used = len;
  } else if (b->error == 0) {
    b->error = cleave_write_all(b->fd, data, len);
    b->written += len;
  }
}

/// Prepares `b` to stream into `fd`; returns 0 or ENOMEM.
static inline int cleave_fd_buffer_init(cleave_fd_buffer *b, int fd, size_t capacity) {
  memset(b, 0, sizeof *b);
  b->base.append = cleave_fd_buffer_append;
  b->fd = fd;
  b->capacity = capacity;
  b->stage = (uint8_t *)malloc(capacity);
  return b->stage ? 0 : ENOMEM;
}

static inline void cleave_fd_buffer_destroy(cleave_fd_buffer *b) {
  free(b->stage);
  b->stage = NULL;
}

static inline ProtobufCBuffer *cleave_fd_buffer_base(cleave_fd_buffer *b) { return &b->base; }

#endif
