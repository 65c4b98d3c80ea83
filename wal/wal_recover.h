/*
 * wal/wal_recover.h - where a log ends after a crash, and whether that end
 * is a torn tail or corruption before it. Pure: the log reads or maps its
 * segments and passes their bytes; this decides, the log then erases and
 * appends. Never installed. docs/wal.md, "Recovery", gives the reasoning.
 *
 * The valid log is the longest run of valid frames from start_lsn, segment
 * after segment (a segment that ends CLEAN hands over to the next). Let p be
 * where it stops. Every frame carries the durable LSN at the time it was
 * written, its watermark; appends are acknowledged in LSN order, and only
 * once durable. So if some valid frame anywhere after p has watermark > p,
 * the frame at p had been durable and acknowledged before that frame was
 * written: it was damaged afterwards (CORRUPT). If none has, everything
 * after p can only be writes that were in flight at the crash, none of them
 * acknowledged (TORN), or nothing at all (CLEAN).
 */
#ifndef MAPIO_WAL_RECOVER_H
#define MAPIO_WAL_RECOVER_H

#include "wal_scan.h"

/* One segment's bytes as the log found them (a file may be shorter than S,
 * or missing: then leave it out). */
typedef struct mapio__wal_seg_in {
    uint64_t segno;  /* from the file name */
    const void *buf; /* the file's first len bytes */
    size_t len;      /* <= S */
} mapio__wal_seg_in_t;

/* The log's recovery option. */
typedef enum mapio__wal_policy {
    MAPIO__WAL_TOLERATE_TAIL = 0, /* default: a torn tail ends the log; corruption is an error */
    MAPIO__WAL_POINT_IN_TIME,     /* the first invalid frame ends the log, whatever follows */
    MAPIO__WAL_ABSOLUTE,          /* anything but a clean end is an error, a torn tail too */
} mapio__wal_policy_t;

/* Where the valid log stopped. */
typedef enum mapio__wal_stop {
    MAPIO__WAL_STOP_ZEROS = 1, /* nothing written at end_lsn (zeros, or its file ends) */
    MAPIO__WAL_STOP_MISSING,   /* end_lsn's segment is not among the files */
    MAPIO__WAL_STOP_INVALID,   /* an invalid frame at end_lsn; why: mapio__wal_frame_err_t */
    MAPIO__WAL_STOP_HEADER,    /* end_lsn's segment header is bad; why: mapio__wal_hdr_err_t */
} mapio__wal_stop_t;

typedef enum mapio__wal_verdict {
    MAPIO__WAL_CLEAN = 0, /* the log ends at end_lsn and nothing valid follows it */
    MAPIO__WAL_TORN,      /* a torn tail: what follows was never acknowledged */
    MAPIO__WAL_CORRUPT,   /* a later frame proves the frame at end_lsn was acknowledged */
} mapio__wal_verdict_t;

typedef struct mapio__wal_recovery {
    uint64_t end_lsn;  /* where appending continues: the end of the valid log */
    uint64_t erase_lo; /* == end_lsn */
    uint64_t erase_hi; /* zero [erase_lo, erase_hi) (durably) before appending;
                          == erase_lo: nothing to erase */
    uint64_t frames;   /* BATCH frames in [start_lsn, end_lsn) */
    uint64_t records;  /* their records */
    mapio__wal_stop_t stop;
    int why; /* the frame or header check that failed (STOP_INVALID, STOP_HEADER) */
    mapio__wal_verdict_t verdict;
    mapio__wal_seen_t later; /* the valid frames found after end_lsn */
} mapio__wal_recovery_t;

/* The rule alone: the verdict for a log that stopped at end_lsn for stop,
 * given what the look-ahead found after it. */
mapio__wal_verdict_t mapio__wal_classify(mapio__wal_stop_t stop, uint64_t end_lsn,
                                         const mapio__wal_seen_t *later);

/* 0 if policy accepts verdict, else MAPIO__WAL_EBADMSG. */
int mapio__wal_policy_check(mapio__wal_policy_t policy, mapio__wal_verdict_t verdict);

/*
 * mapio__wal_recover - find the end of f's log from start_lsn (a frame
 * boundary the log has kept, e.g. its last checkpoint; an LSN at a
 * segment's byte 0 means that segment's first frame) over segs, sorted by
 * segment number without repeats, starting with start_lsn's segment
 * (earlier ones are skipped). Each segment's header is checked against f
 * and gives that segment's frame alignment.
 *
 * Fills *out in every case but MAPIO_EINVAL and returns: 0 (append at
 * out->end_lsn once [erase_lo, erase_hi) is zeroed and synced),
 * MAPIO__WAL_EBADMSG (policy refuses out->verdict: do not append), or
 * MAPIO_EINVAL (bad arguments: unsorted segments, a segment longer than S,
 * start_lsn inside a header or misaligned).
 *
 * Cost: one CRC pass over the valid log, then one 8-byte compare per aligned
 * position of everything after end_lsn (a CRC only where the lsn field
 * matches its position).
 */
int mapio__wal_recover(const mapio__wal_fmt_t *f, const mapio__wal_seg_in_t *segs, size_t nsegs,
                       uint64_t start_lsn, mapio__wal_policy_t policy, mapio__wal_recovery_t *out);

/* "clean", "torn", "corrupt"; "zeros", "missing", ...: static strings. */
const char *mapio__wal_verdict_name(int verdict);
const char *mapio__wal_stop_name(int stop);

#endif
