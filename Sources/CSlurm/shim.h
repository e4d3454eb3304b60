// Caravan's shim over <slurm/slurm.h>: only what Swift cannot import as it is.
//
// - SLURM_BIT() flags and the NO_VAL/INFINITE sentinels become typed inline functions
//   (Swift skips function-like macros and imports some of these as Int32).
// - slurm_job_state_string, slurm_job_reason_string and slurm_parse_time are exported by
//   libslurm but not declared in slurm.h.
// - Calls whose signature changes between releases get one stable wrapper each, gated on
//   SLURM_VERSION_NUMBER: code is compiled against the cluster's own headers, because the ABI
//   changes with every release.
#ifndef CARAVAN_CSLURM_SHIM_H
#define CARAVAN_CSLURM_SHIM_H

#include <signal.h>
#include <stdint.h>
#include <time.h>

#if !__has_include(<slurm/slurm.h>)
#error "<slurm/slurm.h> not found: install libslurm-dev (apt-get install libslurm-dev), or build without libslurm: swift build --disable-default-traits"
#endif

#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>

#ifndef SLURM_VERSION_NUMBER
#error "slurm/slurm.h did not define SLURM_VERSION_NUMBER"
#endif

#if SLURM_VERSION_NUMBER < SLURM_VERSION_NUM(20, 11, 0)
#error "Caravan needs libslurm 20.11 or later (slurm_init)"
#endif

// Exported by libslurm (src/common/slurm_protocol_defs.c, renamed by slurm_xlator.h) but not
// declared in any installed header. The strings are static: never free them.
extern const char *slurm_job_state_string(uint32_t state);
extern const char *slurm_job_reason_string(enum job_state_reason reason);
// sbatch's --begin parser (src/common/parse_time.c): "now+1hour", "16:00", "2026-01-20T12:00"...
// Returns 0 for text it cannot read.
extern time_t slurm_parse_time(const char *time_str, int past);

// --- sentinels -----------------------------------------------------------------------------

static inline uint16_t caravan_no_val16(void) { return (uint16_t)NO_VAL16; }
static inline uint32_t caravan_no_val(void) { return (uint32_t)NO_VAL; }
static inline uint64_t caravan_no_val64(void) { return (uint64_t)NO_VAL64; }
static inline uint32_t caravan_infinite(void) { return (uint32_t)INFINITE; }
static inline uint32_t caravan_nice_offset(void) { return (uint32_t)NICE_OFFSET; }
static inline uint32_t caravan_job_state_base(void) { return (uint32_t)JOB_STATE_BASE; }

// --- flags ---------------------------------------------------------------------------------

/// warn_flags for `--signal=B:...`: signal the batch shell only.
static inline uint16_t caravan_kill_job_batch(void) { return (uint16_t)KILL_JOB_BATCH; }
/// slurm_kill_job flags for scancel's default: the whole job, every array task.
static inline uint16_t caravan_kill_full_job(void) { return (uint16_t)KILL_FULL_JOB; }
static inline uint8_t caravan_open_mode_append(void) { return (uint8_t)OPEN_MODE_APPEND; }
static inline uint8_t caravan_open_mode_truncate(void) { return (uint8_t)OPEN_MODE_TRUNCATE; }
static inline uint64_t caravan_job_ntasks_set(void) { return (uint64_t)JOB_NTASKS_SET; }
static inline uint64_t caravan_job_cpus_set(void) { return (uint64_t)JOB_CPUS_SET; }
static inline uint64_t caravan_kill_inv_dep(void) { return (uint64_t)KILL_INV_DEP; }
static inline uint64_t caravan_no_kill_inv_dep(void) { return (uint64_t)NO_KILL_INV_DEP; }
static inline uint16_t caravan_job_shared_none(void) { return (uint16_t)JOB_SHARED_NONE; }
static inline uint16_t caravan_job_shared_user(void) { return (uint16_t)JOB_SHARED_USER; }
static inline uint16_t caravan_job_shared_mcs(void) { return (uint16_t)JOB_SHARED_MCS; }
static inline uint16_t caravan_part_flag_default(void) { return (uint16_t)PART_FLAG_DEFAULT; }
static inline uint16_t caravan_mail_begin(void) { return (uint16_t)MAIL_JOB_BEGIN; }
static inline uint16_t caravan_mail_end(void) { return (uint16_t)MAIL_JOB_END; }
static inline uint16_t caravan_mail_fail(void) { return (uint16_t)MAIL_JOB_FAIL; }
static inline uint16_t caravan_mail_requeue(void) { return (uint16_t)MAIL_JOB_REQUEUE; }
static inline uint16_t caravan_mail_time100(void) { return (uint16_t)MAIL_JOB_TIME100; }
static inline uint16_t caravan_mail_time90(void) { return (uint16_t)MAIL_JOB_TIME90; }
static inline uint16_t caravan_mail_time80(void) { return (uint16_t)MAIL_JOB_TIME80; }
static inline uint16_t caravan_mail_time50(void) { return (uint16_t)MAIL_JOB_TIME50; }
static inline uint16_t caravan_mail_stage_out(void) { return (uint16_t)MAIL_JOB_STAGE_OUT; }
static inline uint16_t caravan_mail_array_tasks(void) { return (uint16_t)MAIL_ARRAY_TASKS; }

// --- calls whose signature differs between releases -----------------------------------------

/// One job (every array task of it) with details; free *out with slurm_free_job_info_msg.
static inline int caravan_load_job(uint32_t job_id, job_info_msg_t **out) {
#if SLURM_VERSION_NUMBER >= SLURM_VERSION_NUM(26, 5, 0)
  // 26.05 identifies the job by a slurm_step_id_t, passed by value:
  // slurm_load_job(job_info_msg_t **resp, slurm_step_id_t step_id, uint16_t show_flags).
  // Not compiled here (Debian 12 ships 22.05); step_id NO_VAL means the whole job.
  slurm_step_id_t id = { .job_id = job_id, .step_het_comp = NO_VAL, .step_id = NO_VAL };
  return slurm_load_job(out, id, SHOW_ALL | SHOW_DETAIL);
#else
  return slurm_load_job(out, job_id, SHOW_ALL | SHOW_DETAIL);
#endif
}

/// Signals (or, with SIGKILL, cancels) a job; `flags` are KILL_* flags.
static inline int caravan_kill_job(uint32_t job_id, uint16_t signal, uint16_t flags) {
#if SLURM_VERSION_NUMBER >= SLURM_VERSION_NUM(26, 5, 0)
  // As slurm_load_job: slurm_kill_job(slurm_step_id_t step_id, uint16_t signal, uint16_t flags).
  // Not compiled here; check it against the cluster's slurm.h when building for 26.05.
  slurm_step_id_t id = { .job_id = job_id, .step_het_comp = NO_VAL, .step_id = NO_VAL };
  return slurm_kill_job(id, signal, flags);
#else
  return slurm_kill_job(job_id, signal, flags);
#endif
}

/// Every node; free *out with slurm_free_node_info_msg.
static inline int caravan_load_nodes(node_info_msg_t **out) {
  return slurm_load_node((time_t)0, out, SHOW_ALL);
}

/// Every partition; free *out with slurm_free_partition_info_msg.
static inline int caravan_load_partitions(partition_info_msg_t **out) {
  return slurm_load_partitions((time_t)0, out, SHOW_ALL);
}

#endif
