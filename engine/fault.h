/*
 * engine/fault.h - the fault hooks of one engine (mapio/fault.h): the calls
 * that describe an OS call to them and apply what they say, and the
 * ready-made rule-based hook.
 *
 * Knows requests, not engines: the engine owns a struct mapio__faults and
 * its public mapio_fault_* calls decide when it may change (while idle).
 * Never installed.
 */
#ifndef MAPIO_FAULT_INTERNAL_H
#define MAPIO_FAULT_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "mapio/fault.h"
#include "req.h"

struct mapio__fault_rules;

struct mapio__faults {
    bool on; /* hooks installed: read by every thread doing I/O, set while idle */
    mapio_fault_hooks_t hooks;
    _Atomic uint64_t seq;
    struct mapio__fault_rules *rules; /* what mapio_fault_rules() installed */
};

/* Describe the OS call req is about to make (its current segment). */
void mapio__fault_describe(mapio_req_t *req, mapio_fault_call_t *call);
/* before(): MAPIO_FAULT_PASS, an error to report instead, or a byte limit. */
int64_t mapio__fault_before(struct mapio__faults *f, mapio_req_t *req, mapio_fault_call_t *call);
/* after(): the result to report for the call just made. */
int64_t mapio__fault_after(struct mapio__faults *f, mapio_req_t *req, int64_t res);

/* Install hooks (NULL or empty: none), dropping any rules. The engine is idle. */
void mapio__faults_set(struct mapio__faults *f, const mapio_fault_hooks_t *hooks);
/* Whether rules are well formed: 0 or MAPIO_EINVAL. */
int mapio__faults_check_rules(const mapio_fault_rule_t *rules, unsigned n);
/* Validate and install rules (n = 0: none). Returns 0, MAPIO_EINVAL or
 * MAPIO_ENOMEM (then nothing changed). The engine is idle. */
int mapio__faults_rules(struct mapio__faults *f, const mapio_fault_rule_t *rules, unsigned n);
/* Calls rule index has hit, or 0 (no such rule). Thread-safe. */
uint64_t mapio__faults_rule_hits(const struct mapio__faults *f, unsigned index);
/* Release what the hooks own. */
void mapio__faults_free(struct mapio__faults *f);

#endif
