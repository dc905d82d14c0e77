/*
 * okc_fs: the two durability calls Node does not offer, for the engine's
 * import path (issue 13). Node-API only (no V8 or Node internals), so one
 * build serves Node and Electron alike.
 *
 *   start(mode, paths, threads) -> job
 *     mode 1: syncfs(2) of the filesystem holding paths[0] (one thread);
 *     mode 0: fsync(2) of every path (files or folders), on up to `threads`
 *     threads at once (at most 8).
 *     The work runs on threads of its own: the caller goes on, and collects
 *     the outcome with wait(). Paths are opened O_RDONLY | O_NOFOLLOW.
 *   wait(job) -> Int32Array
 *     Blocks until the job is done; one errno per path (0: done). A second
 *     wait returns the same outcome.
 *
 * A job nobody waits for is let go when it is garbage collected (its threads
 * finish on their own and free it); at process exit they end with the
 * process (a flush cut short changes nothing a later flush would not redo).
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_THREADS 8

typedef struct {
  char **paths;
  int32_t *errs;
  uint32_t n;
  uint32_t next;
  int mode;
  pthread_mutex_t mu;
  pthread_t th[MAX_THREADS];
  int nth;
  int done;     /* threads that have finished */
  int joined;   /* wait() joined them */
  int orphaned; /* the handle was collected first: the last thread frees the job */
} job_t;

static void job_free(job_t *j);

static void *run(void *arg) {
  job_t *j = arg;
  for (;;) {
    pthread_mutex_lock(&j->mu);
    uint32_t i = j->next++;
    pthread_mutex_unlock(&j->mu);
    if (i >= j->n) {
      pthread_mutex_lock(&j->mu);
      int last = ++j->done == j->nth && j->orphaned;
      pthread_mutex_unlock(&j->mu);
      if (last) job_free(j);
      return NULL;
    }
    if (j->errs[i] != 0) continue; /* refused before it started (a NUL inside the path) */
    int fd = open(j->paths[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      j->errs[i] = errno;
      continue;
    }
    int r = j->mode == 1 ? syncfs(fd) : fsync(fd);
    j->errs[i] = r == 0 ? 0 : errno;
    close(fd);
  }
}

static void join_all(job_t *j) {
  if (j->joined) return;
  for (int i = 0; i < j->nth; i++) pthread_join(j->th[i], NULL);
  j->joined = 1;
}

static void job_free(job_t *j) {
  for (uint32_t i = 0; i < j->n; i++) free(j->paths[i]);
  free(j->paths);
  free(j->errs);
  pthread_mutex_destroy(&j->mu);
  free(j);
}

/* A job nobody waited for: its threads are detached and the last one to finish frees it (the
 * collector never blocks on a flush still running). */
static void finalize(napi_env env, void *data, void *hint) {
  job_t *j = data;
  if (j->joined) {
    job_free(j);
    return;
  }
  pthread_mutex_lock(&j->mu);
  for (int i = 0; i < j->nth; i++) pthread_detach(j->th[i]);
  int all_done = j->done == j->nth;
  j->orphaned = 1;
  pthread_mutex_unlock(&j->mu);
  if (all_done) job_free(j);
}

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_error(env, "ERR_OKC_FS", msg);
  return NULL;
}

static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) return fail(env, "start(mode, paths, threads)");
  int32_t mode = 0, threads = 1;
  uint32_t n = 0;
  bool is_array = false;
  if (napi_get_value_int32(env, argv[0], &mode) != napi_ok || (mode != 0 && mode != 1)) return fail(env, "mode must be 0 (fsync) or 1 (syncfs)");
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) return fail(env, "paths must be an array of strings");
  if (napi_get_array_length(env, argv[1], &n) != napi_ok) return fail(env, "paths must be an array of strings");
  if (napi_get_value_int32(env, argv[2], &threads) != napi_ok) return fail(env, "threads must be a number");
  if (mode == 1 && n != 1) return fail(env, "syncfs takes one path");
  job_t *j = calloc(1, sizeof(job_t));
  if (!j) return fail(env, "out of memory");
  j->n = n;
  j->mode = mode;
  j->paths = calloc(n ? n : 1, sizeof(char *));
  j->errs = calloc(n ? n : 1, sizeof(int32_t));
  pthread_mutex_init(&j->mu, NULL);
  if (!j->paths || !j->errs) {
    j->n = 0;
    job_free(j);
    return fail(env, "out of memory");
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    size_t len = 0;
    if (napi_get_element(env, argv[1], i, &v) != napi_ok || napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
      j->n = i;
      job_free(j);
      return fail(env, "paths must be an array of strings");
    }
    j->paths[i] = malloc(len + 1);
    if (!j->paths[i]) {
      j->n = i;
      job_free(j);
      return fail(env, "out of memory");
    }
    napi_get_value_string_utf8(env, v, j->paths[i], len + 1, &len);
    if (strlen(j->paths[i]) != len) j->errs[i] = EINVAL; /* a NUL inside: never opened */
  }
  if (threads < 1) threads = 1;
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  if ((uint32_t)threads > n) threads = n ? (int32_t)n : 1;
  for (int i = 0; i < threads; i++) {
    if (pthread_create(&j->th[j->nth], NULL, run, j) == 0) j->nth++;
  }
  if (j->nth == 0) {
    /* No thread could start: the work is done here, before returning. */
    j->nth = 1;
    run(j);
    j->joined = 1;
  }
  napi_value ext;
  if (napi_create_external(env, j, finalize, NULL, &ext) != napi_ok) {
    join_all(j);
    job_free(j);
    return fail(env, "cannot create the job handle");
  }
  return ext;
}

static napi_value wait_job(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data = NULL;
  napi_valuetype t;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return fail(env, "wait(job)");
  if (napi_typeof(env, argv[0], &t) != napi_ok || t != napi_external || napi_get_value_external(env, argv[0], &data) != napi_ok || !data) return fail(env, "wait(job): not a job");
  job_t *j = data;
  join_all(j);
  napi_value buf, arr;
  void *bytes = NULL;
  if (napi_create_arraybuffer(env, (size_t)j->n * sizeof(int32_t), &bytes, &buf) != napi_ok) return fail(env, "out of memory");
  if (j->n) memcpy(bytes, j->errs, (size_t)j->n * sizeof(int32_t));
  if (napi_create_typedarray(env, napi_int32_array, j->n, buf, 0, &arr) != napi_ok) return fail(env, "out of memory");
  return arr;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value f;
  napi_create_function(env, "start", NAPI_AUTO_LENGTH, start, NULL, &f);
  napi_set_named_property(env, exports, "start", f);
  napi_create_function(env, "wait", NAPI_AUTO_LENGTH, wait_job, NULL, &f);
  napi_set_named_property(env, exports, "wait", f);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
