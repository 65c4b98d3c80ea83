/*
 * tests/install/abi_layout.h - the layout of every public struct, pinned.
 *
 * Callers allocate mapio_req_t and mapio_file_t (and fill or receive the
 * other structs of api/), so their sizes, alignments and field offsets are
 * compiled into every program that uses libmapio: they are part of the ABI
 * (docs/abi.md). A change to any value below breaks binaries built against
 * an earlier libmapio.so.0, so it must be deliberate: change the value here
 * and follow docs/abi.md (a new soname). The checks are compile-time
 * (abi_layout.c as C11, abi_layout.cpp as C++), so a change cannot build
 * unnoticed.
 *
 * X(expression, 64-bit, 32-bit i386, other 32-bit): the values for 64-bit
 * targets (x86-64 and AArch64 Linux, BSD and macOS, LP64; 64-bit Windows,
 * LLP64: they agree, and CI checks both), for 32-bit x86 System V (i386,
 * where a uint64_t inside a struct is 4-aligned) and for the other 32-bit
 * targets (Win32, 32-bit ARM: 8-aligned). Only the 64-bit values are checked
 * by CI; the 32-bit ones were computed with gcc -m32 and i686-w64-mingw32-gcc.
 *
 * Build with -DMAPIO_ABI_REPORT to print every value instead of asserting.
 */
#ifndef MAPIO_TESTS_ABI_LAYOUT_H
#define MAPIO_TESTS_ABI_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "mapio.h"

#ifdef __cplusplus
#define MAPIO_ABI_ALIGNOF(t) alignof(t)
#define MAPIO_ABI_STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define MAPIO_ABI_ALIGNOF(t) _Alignof(t)
#define MAPIO_ABI_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

/* How a uint64_t is aligned inside a struct: 4 on i386 System V, else 8. */
struct mapio_abi_u64_probe {
    char c;
    uint64_t x;
};
#define MAPIO_ABI_U64_ALIGN offsetof(struct mapio_abi_u64_probe, x)

#define MAPIO_ABI_EXPECT(v64, v32_i386, v32)                                                       \
    (sizeof(void *) == 8        ? (size_t)(v64)                                                    \
     : MAPIO_ABI_U64_ALIGN == 4 ? (size_t)(v32_i386)                                               \
                                : (size_t)(v32))

#define MAPIO_ABI_PINS(X)                                                                          \
    X(sizeof(mapio_iovec_t), 16, 8, 8)                                                             \
    X(MAPIO_ABI_ALIGNOF(mapio_iovec_t), 8, 4, 4)                                                   \
    X(offsetof(mapio_iovec_t, iov_base), 0, 0, 0)                                                  \
    X(offsetof(mapio_iovec_t, iov_len), 8, 4, 4)                                                   \
    X(sizeof(mapio_engine_opts_t), 40, 32, 32)                                                     \
    X(MAPIO_ABI_ALIGNOF(mapio_engine_opts_t), 8, 4, 4)                                             \
    X(offsetof(mapio_engine_opts_t, backend), 0, 0, 0)                                             \
    X(offsetof(mapio_engine_opts_t, max_inflight), 8, 4, 4)                                        \
    X(offsetof(mapio_engine_opts_t, ring_entries), 12, 8, 8)                                       \
    X(offsetof(mapio_engine_opts_t, workers), 16, 12, 12)                                          \
    X(offsetof(mapio_engine_opts_t, flags), 20, 16, 16)                                            \
    X(offsetof(mapio_engine_opts_t, sq_thread_idle_ms), 24, 20, 20)                                \
    X(offsetof(mapio_engine_opts_t, commit_delay_us), 28, 24, 24)                                  \
    X(offsetof(mapio_engine_opts_t, commit_max_batch), 32, 28, 28)                                 \
    X(sizeof(mapio_file_t), 136, 132, 136)                                                         \
    X(MAPIO_ABI_ALIGNOF(mapio_file_t), 8, 4, 8)                                                    \
    X(offsetof(mapio_file_t, data), 0, 0, 0)                                                       \
    X(offsetof(mapio_file_t, priv), 8, 4, 8)                                                       \
    X(sizeof(mapio_req_t), 400, 372, 376)                                                          \
    X(MAPIO_ABI_ALIGNOF(mapio_req_t), 8, 4, 8)                                                     \
    X(offsetof(mapio_req_t, data), 0, 0, 0)                                                        \
    X(offsetof(mapio_req_t, cb), 8, 4, 4)                                                          \
    X(offsetof(mapio_req_t, result), 16, 8, 8)                                                     \
    X(offsetof(mapio_req_t, op), 24, 16, 16)                                                       \
    X(offsetof(mapio_req_t, file), 32, 20, 20)                                                     \
    X(offsetof(mapio_req_t, offset), 40, 24, 24)                                                   \
    X(offsetof(mapio_req_t, buf), 48, 32, 32)                                                      \
    X(offsetof(mapio_req_t, len), 56, 36, 36)                                                      \
    X(offsetof(mapio_req_t, iov), 64, 40, 40)                                                      \
    X(offsetof(mapio_req_t, iovcnt), 72, 44, 44)                                                   \
    X(offsetof(mapio_req_t, flags), 76, 48, 48)                                                    \
    X(offsetof(mapio_req_t, priv), 80, 52, 56)                                                     \
    X(sizeof(mapio_write_t), 24, 16, 16)                                                           \
    X(MAPIO_ABI_ALIGNOF(mapio_write_t), 8, 4, 8)                                                   \
    X(offsetof(mapio_write_t, buf), 0, 0, 0)                                                       \
    X(offsetof(mapio_write_t, len), 8, 4, 4)                                                       \
    X(offsetof(mapio_write_t, offset), 16, 8, 8)                                                   \
    X(sizeof(mapio_latency_t), 40, 40, 40)                                                         \
    X(MAPIO_ABI_ALIGNOF(mapio_latency_t), 8, 4, 8)                                                 \
    X(offsetof(mapio_latency_t, count), 0, 0, 0)                                                   \
    X(offsetof(mapio_latency_t, p50_ns), 8, 8, 8)                                                  \
    X(offsetof(mapio_latency_t, p99_ns), 16, 16, 16)                                               \
    X(offsetof(mapio_latency_t, p999_ns), 24, 24, 24)                                              \
    X(offsetof(mapio_latency_t, max_ns), 32, 32, 32)                                               \
    X(sizeof(mapio_metrics_t), 320, 312, 312)                                                      \
    X(MAPIO_ABI_ALIGNOF(mapio_metrics_t), 8, 4, 8)                                                 \
    X(offsetof(mapio_metrics_t, sync_background_loops), 0, 0, 0)                                   \
    X(offsetof(mapio_metrics_t, sync), 8, 8, 8)                                                    \
    X(offsetof(mapio_metrics_t, sync_delayed), 16, 16, 16)                                         \
    X(offsetof(mapio_metrics_t, sync_longest_delay_us), 24, 24, 24)                                \
    X(offsetof(mapio_metrics_t, sync_shortest_delay_us), 32, 32, 32)                               \
    X(offsetof(mapio_metrics_t, sync_us), 40, 40, 40)                                              \
    X(offsetof(mapio_metrics_t, write_bytes), 48, 48, 48)                                          \
    X(offsetof(mapio_metrics_t, write), 56, 56, 56)                                                \
    X(offsetof(mapio_metrics_t, write_us), 64, 64, 64)                                             \
    X(offsetof(mapio_metrics_t, read), 72, 72, 72)                                                 \
    X(offsetof(mapio_metrics_t, read_bytes), 80, 80, 80)                                           \
    X(offsetof(mapio_metrics_t, read_us), 88, 88, 88)                                              \
    X(offsetof(mapio_metrics_t, commit), 96, 96, 96)                                               \
    X(offsetof(mapio_metrics_t, errors), 104, 104, 104)                                            \
    X(offsetof(mapio_metrics_t, short_io_resumed), 112, 112, 112)                                  \
    X(offsetof(mapio_metrics_t, retries), 120, 120, 120)                                           \
    X(offsetof(mapio_metrics_t, cancelled), 128, 128, 128)                                         \
    X(offsetof(mapio_metrics_t, read_inline), 136, 136, 136)                                       \
    X(offsetof(mapio_metrics_t, read_latency), 144, 144, 144)                                      \
    X(offsetof(mapio_metrics_t, write_latency), 184, 184, 184)                                     \
    X(offsetof(mapio_metrics_t, sync_latency), 224, 224, 224)                                      \
    X(offsetof(mapio_metrics_t, commit_latency), 264, 264, 264)                                    \
    X(offsetof(mapio_metrics_t, backend), 304, 304, 304)                                           \
    X(offsetof(mapio_metrics_t, fallback_reason), 312, 308, 308)                                   \
    X(sizeof(mapio_fault_call_t), 80, 52, 56)                                                      \
    X(MAPIO_ABI_ALIGNOF(mapio_fault_call_t), 8, 4, 8)                                              \
    X(offsetof(mapio_fault_call_t, op), 0, 0, 0)                                                   \
    X(offsetof(mapio_fault_call_t, file), 8, 4, 4)                                                 \
    X(offsetof(mapio_fault_call_t, offset), 16, 8, 8)                                              \
    X(offsetof(mapio_fault_call_t, len), 24, 16, 16)                                               \
    X(offsetof(mapio_fault_call_t, buf), 32, 24, 24)                                               \
    X(offsetof(mapio_fault_call_t, iov), 40, 28, 28)                                               \
    X(offsetof(mapio_fault_call_t, iovcnt), 48, 32, 32)                                            \
    X(offsetof(mapio_fault_call_t, seq), 56, 36, 40)                                               \
    X(offsetof(mapio_fault_call_t, flags), 64, 44, 48)                                             \
    X(offsetof(mapio_fault_call_t, path), 72, 48, 52)                                              \
    X(sizeof(mapio_fault_hooks_t), 24, 12, 12)                                                     \
    X(MAPIO_ABI_ALIGNOF(mapio_fault_hooks_t), 8, 4, 4)                                             \
    X(offsetof(mapio_fault_hooks_t, ctx), 0, 0, 0)                                                 \
    X(offsetof(mapio_fault_hooks_t, before), 8, 4, 4)                                              \
    X(offsetof(mapio_fault_hooks_t, after), 16, 8, 8)                                              \
    X(sizeof(mapio_fault_rule_t), 48, 36, 48)                                                      \
    X(MAPIO_ABI_ALIGNOF(mapio_fault_rule_t), 8, 4, 8)                                              \
    X(offsetof(mapio_fault_rule_t, ops), 0, 0, 0)                                                  \
    X(offsetof(mapio_fault_rule_t, nth), 8, 4, 8)                                                  \
    X(offsetof(mapio_fault_rule_t, times), 16, 12, 16)                                             \
    X(offsetof(mapio_fault_rule_t, error), 24, 20, 24)                                             \
    X(offsetof(mapio_fault_rule_t, max_len), 32, 24, 32)                                           \
    X(offsetof(mapio_fault_rule_t, after_call), 40, 32, 40)                                        \
    X(sizeof(mapio_map_opts_t), 40, 36, 40)                                                        \
    X(MAPIO_ABI_ALIGNOF(mapio_map_opts_t), 8, 4, 8)                                                \
    X(offsetof(mapio_map_opts_t, kind), 0, 0, 0)                                                   \
    X(offsetof(mapio_map_opts_t, open), 4, 4, 4)                                                   \
    X(offsetof(mapio_map_opts_t, size), 8, 8, 8)                                                   \
    X(offsetof(mapio_map_opts_t, offset), 16, 12, 16)                                              \
    X(offsetof(mapio_map_opts_t, len), 24, 20, 24)                                                 \
    X(offsetof(mapio_map_opts_t, flags), 32, 28, 32)                                               \
    X(offsetof(mapio_map_opts_t, mode), 36, 32, 36)                                                \
    X(sizeof(mapio_cursor_t), 32, 28, 32)                                                          \
    X(MAPIO_ABI_ALIGNOF(mapio_cursor_t), 8, 4, 8)                                                  \
    X(offsetof(mapio_cursor_t, map), 0, 0, 0)                                                      \
    X(offsetof(mapio_cursor_t, start), 8, 4, 8)                                                    \
    X(offsetof(mapio_cursor_t, len), 16, 12, 16)                                                   \
    X(offsetof(mapio_cursor_t, pos), 24, 20, 24)                                                   \
    X(sizeof(mapio_u128_t), 16, 16, 16)                                                            \
    X(MAPIO_ABI_ALIGNOF(mapio_u128_t), 8, 4, 8)                                                    \
    X(offsetof(mapio_u128_t, hi), 0, 0, 0)                                                         \
    X(offsetof(mapio_u128_t, lo), 8, 8, 8)                                                         \
    X(sizeof(mapio_path_info_t), 96, 92, 96)                                                       \
    X(MAPIO_ABI_ALIGNOF(mapio_path_info_t), 8, 4, 8)                                               \
    X(offsetof(mapio_path_info_t, size), 0, 0, 0)                                                  \
    X(offsetof(mapio_path_info_t, dev), 8, 8, 8)                                                   \
    X(offsetof(mapio_path_info_t, ino), 16, 16, 16)                                                \
    X(offsetof(mapio_path_info_t, rdev), 24, 24, 24)                                               \
    X(offsetof(mapio_path_info_t, nlink), 32, 32, 32)                                              \
    X(offsetof(mapio_path_info_t, blocks), 40, 40, 40)                                             \
    X(offsetof(mapio_path_info_t, blksize), 48, 48, 48)                                            \
    X(offsetof(mapio_path_info_t, mode), 56, 56, 56)                                               \
    X(offsetof(mapio_path_info_t, uid), 60, 60, 60)                                                \
    X(offsetof(mapio_path_info_t, gid), 64, 64, 64)                                                \
    X(offsetof(mapio_path_info_t, atime_ns), 72, 68, 72)                                           \
    X(offsetof(mapio_path_info_t, mtime_ns), 80, 76, 80)                                           \
    X(offsetof(mapio_path_info_t, ctime_ns), 88, 84, 88)                                           \
    X(sizeof(mapio_range_t), 16, 16, 16)                                                           \
    X(MAPIO_ABI_ALIGNOF(mapio_range_t), 8, 4, 8)                                                   \
    X(offsetof(mapio_range_t, start), 0, 0, 0)                                                     \
    X(offsetof(mapio_range_t, end), 8, 8, 8)                                                       \
    X(sizeof(mapio_range_state_t), 24, 24, 24)                                                     \
    X(MAPIO_ABI_ALIGNOF(mapio_range_state_t), 8, 4, 8)                                             \
    X(offsetof(mapio_range_state_t, next), 0, 0, 0)                                                \
    X(offsetof(mapio_range_state_t, total), 8, 8, 8)                                               \
    X(offsetof(mapio_range_state_t, align), 16, 16, 16)                                            \
    X(sizeof(mapio_range_seq_t), 24, 24, 24)                                                       \
    X(MAPIO_ABI_ALIGNOF(mapio_range_seq_t), 8, 4, 8)                                               \
    X(offsetof(mapio_range_seq_t, s), 0, 0, 0)                                                     \
    X(sizeof(mapio_receipt_t), 24, 24, 24)                                                         \
    X(MAPIO_ABI_ALIGNOF(mapio_receipt_t), 8, 4, 8)                                                 \
    X(offsetof(mapio_receipt_t, start), 0, 0, 0)                                                   \
    X(offsetof(mapio_receipt_t, end), 8, 8, 8)                                                     \
    X(offsetof(mapio_receipt_t, owner), 16, 16, 16)                                                \
    X(sizeof(mapio_vec_opts_t), 24, 16, 16)                                                        \
    X(MAPIO_ABI_ALIGNOF(mapio_vec_opts_t), 8, 4, 4)                                                \
    X(offsetof(mapio_vec_opts_t, path_fn), 0, 0, 0)                                                \
    X(offsetof(mapio_vec_opts_t, path_ctx), 8, 4, 4)                                               \
    X(offsetof(mapio_vec_opts_t, flags), 16, 8, 8)                                                 \
    X(offsetof(mapio_vec_opts_t, mode), 20, 12, 12)                                                \
    X(sizeof(mapio_vec_stats_t), 32, 32, 32)                                                       \
    X(MAPIO_ABI_ALIGNOF(mapio_vec_stats_t), 8, 4, 8)                                               \
    X(offsetof(mapio_vec_stats_t, active_mappings), 0, 0, 0)                                       \
    X(offsetof(mapio_vec_stats_t, ftruncate_failed), 8, 8, 8)                                      \
    X(offsetof(mapio_vec_stats_t, map_failed), 16, 16, 16)                                         \
    X(offsetof(mapio_vec_stats_t, unmap_failed), 24, 24, 24)                                       \
    X(sizeof(mapio_stat_t), 64, 64, 64)                                                            \
    X(MAPIO_ABI_ALIGNOF(mapio_stat_t), 8, 4, 8)                                                    \
    X(offsetof(mapio_stat_t, size), 0, 0, 0)                                                       \
    X(offsetof(mapio_stat_t, allocated), 8, 8, 8)                                                  \
    X(offsetof(mapio_stat_t, dev), 16, 16, 16)                                                     \
    X(offsetof(mapio_stat_t, ino), 24, 24, 24)                                                     \
    X(offsetof(mapio_stat_t, nlink), 32, 32, 32)                                                   \
    X(offsetof(mapio_stat_t, mode), 40, 40, 40)                                                    \
    X(offsetof(mapio_stat_t, blksize), 44, 44, 44)                                                 \
    X(offsetof(mapio_stat_t, mtime_ns), 48, 48, 48)                                                \
    X(offsetof(mapio_stat_t, ctime_ns), 56, 56, 56)                                                \
    X(sizeof(mapio_wal_opts_t), 40, 40, 40)                                                        \
    X(MAPIO_ABI_ALIGNOF(mapio_wal_opts_t), 8, 4, 8)                                                \
    X(offsetof(mapio_wal_opts_t, segment_size), 0, 0, 0)                                           \
    X(offsetof(mapio_wal_opts_t, start_lsn), 8, 8, 8)                                              \
    X(offsetof(mapio_wal_opts_t, flags), 16, 16, 16)                                               \
    X(offsetof(mapio_wal_opts_t, recovery), 20, 20, 20)                                            \
    X(offsetof(mapio_wal_opts_t, spares), 24, 24, 24)                                              \
    X(offsetof(mapio_wal_opts_t, max_inflight), 28, 28, 28)                                        \
    X(offsetof(mapio_wal_opts_t, block_size), 32, 32, 32)                                          \
    X(offsetof(mapio_wal_opts_t, idle_mark_ms), 36, 36, 36)                                        \
    X(sizeof(mapio_wal_req_t), 80, 68, 72)                                                         \
    X(MAPIO_ABI_ALIGNOF(mapio_wal_req_t), 8, 4, 8)                                                 \
    X(offsetof(mapio_wal_req_t, data), 0, 0, 0)                                                    \
    X(offsetof(mapio_wal_req_t, cb), 8, 4, 4)                                                      \
    X(offsetof(mapio_wal_req_t, result), 16, 8, 8)                                                 \
    X(offsetof(mapio_wal_req_t, lsn), 24, 16, 16)                                                  \
    X(offsetof(mapio_wal_req_t, end_lsn), 32, 24, 24)                                              \
    X(offsetof(mapio_wal_req_t, wal), 40, 32, 32)                                                  \
    X(offsetof(mapio_wal_req_t, priv), 48, 36, 40)                                                 \
    X(sizeof(mapio_wal_info_t), 96, 96, 96)                                                        \
    X(MAPIO_ABI_ALIGNOF(mapio_wal_info_t), 8, 4, 8)                                                \
    X(offsetof(mapio_wal_info_t, log_id), 0, 0, 0)                                                 \
    X(offsetof(mapio_wal_info_t, segment_size), 8, 8, 8)                                           \
    X(offsetof(mapio_wal_info_t, block_size), 16, 16, 16)                                          \
    X(offsetof(mapio_wal_info_t, segments), 20, 20, 20)                                            \
    X(offsetof(mapio_wal_info_t, spares), 24, 24, 24)                                              \
    X(offsetof(mapio_wal_info_t, recycle), 28, 28, 28)                                             \
    X(offsetof(mapio_wal_info_t, first_lsn), 32, 32, 32)                                           \
    X(offsetof(mapio_wal_info_t, durable_lsn), 40, 40, 40)                                         \
    X(offsetof(mapio_wal_info_t, appended), 48, 48, 48)                                            \
    X(offsetof(mapio_wal_info_t, error), 56, 56, 56)                                               \
    X(offsetof(mapio_wal_info_t, recovered), 60, 60, 60)                                           \
    X(offsetof(mapio_wal_info_t, recovered_lsn), 64, 64, 64)                                       \
    X(offsetof(mapio_wal_info_t, recovered_batches), 72, 72, 72)                                   \
    X(offsetof(mapio_wal_info_t, recovered_records), 80, 80, 80)                                   \
    X(offsetof(mapio_wal_info_t, erased_bytes), 88, 88, 88)                                        \
    X(sizeof(mapio_wal_record_t), 48, 44, 48)                                                      \
    X(MAPIO_ABI_ALIGNOF(mapio_wal_record_t), 8, 4, 8)                                              \
    X(offsetof(mapio_wal_record_t, data), 0, 0, 0)                                                 \
    X(offsetof(mapio_wal_record_t, lsn), 8, 4, 8)                                                  \
    X(offsetof(mapio_wal_record_t, batch_lsn), 16, 12, 16)                                         \
    X(offsetof(mapio_wal_record_t, next_lsn), 24, 20, 24)                                          \
    X(offsetof(mapio_wal_record_t, len), 32, 28, 32)                                               \
    X(offsetof(mapio_wal_record_t, index), 36, 32, 36)                                             \
    X(offsetof(mapio_wal_record_t, count), 40, 36, 40)                                             \
    X(offsetof(mapio_wal_record_t, reserved), 44, 40, 44)                                          \
    X(MAPIO_OP_NOP, 0, 0, 0)                                                                       \
    X(MAPIO_OP_READ, 1, 1, 1)                                                                      \
    X(MAPIO_OP_WRITE, 2, 2, 2)                                                                     \
    X(MAPIO_OP_READV, 3, 3, 3)                                                                     \
    X(MAPIO_OP_WRITEV, 4, 4, 4)                                                                    \
    X(MAPIO_OP_FDATASYNC, 5, 5, 5)                                                                 \
    X(MAPIO_OP_FSYNC, 6, 6, 6)                                                                     \
    X(MAPIO_OP_FALLOCATE, 7, 7, 7)                                                                 \
    X(MAPIO_OP_COMMIT, 8, 8, 8)                                                                    \
    X(MAPIO_OP_OPEN, 9, 9, 9)                                                                      \
    X(MAPIO_OP_CLOSE, 10, 10, 10)                                                                  \
    X(MAPIO_OP_STAT, 11, 11, 11)                                                                   \
    X(MAPIO_OP_TRUNCATE, 12, 12, 12)                                                               \
    X(MAPIO_OP_RENAME, 13, 13, 13)                                                                 \
    X(MAPIO_OP_UNLINK, 14, 14, 14)                                                                 \
    X(MAPIO_OP_MKDIR, 15, 15, 15)                                                                  \
    X(MAPIO_OP_SYNC_DIR, 16, 16, 16)                                                               \
    X(MAPIO_OP_SYNC_RANGE, 17, 17, 17)                                                             \
    X(MAPIO_OP_TIMER, 18, 18, 18)

#ifndef MAPIO_ABI_REPORT
#define MAPIO_ABI_PIN(expr, v64, v32_i386, v32)                                                    \
    MAPIO_ABI_STATIC_ASSERT((size_t)(expr) == MAPIO_ABI_EXPECT(v64, v32_i386, v32),                \
                            "ABI: " #expr                                                          \
                            " changed (see tests/install/abi_layout.h, docs/abi.md)");
MAPIO_ABI_PINS(MAPIO_ABI_PIN)
#undef MAPIO_ABI_PIN
#endif

/* The run-time half: count the pins (they held, or this would not have
 * compiled), or with MAPIO_ABI_REPORT print each value beside its pin. */
static int mapio_abi_main(const char *lang)
{
    int n = 0, bad = 0;
#define MAPIO_ABI_COUNT(expr, v64, v32_i386, v32)                                                  \
    do {                                                                                           \
        size_t got = (size_t)(expr), want = MAPIO_ABI_EXPECT(v64, v32_i386, v32);                  \
        n++;                                                                                       \
        if (got != want)                                                                           \
            bad++;                                                                                 \
        if (report || got != want)                                                                 \
            printf("%-55s %6zu  pinned %6zu%s\n", #expr, got, want, got != want ? "  <--" : "");   \
    } while (0);
#ifdef MAPIO_ABI_REPORT
    const int report = 1;
#else
    const int report = 0;
#endif
    MAPIO_ABI_PINS(MAPIO_ABI_COUNT)
#undef MAPIO_ABI_COUNT
    printf("abi-layout (%s, %zu-bit pointers): %d values pinned, %d changed\n", lang,
           sizeof(void *) * 8, n, bad);
    return bad != 0;
}

#endif
