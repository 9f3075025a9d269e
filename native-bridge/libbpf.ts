// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// The one place that loads the system libbpf (libbpf.so.1, >= 0.8) and declares
// the functions we call. Everything else goes through `lib()`.
import koffi from 'koffi';

let loaded: ReturnType<typeof declare> | undefined;

export const BPF_TC_INGRESS = 1;
export const BPF_TC_EGRESS = 2;
export const BPF_TC_F_REPLACE = 1;
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;

// Option structs mirror /usr/include/bpf/libbpf.h and bpf.h; `sz` is their size.
export const TcHook = koffi.struct('bpf_tc_hook', {
  sz: 'size_t',
  ifindex: 'int',
  attach_point: 'int',
  parent: 'uint32_t',
});
export const TcOpts = koffi.struct('bpf_tc_opts', {
  sz: 'size_t',
  prog_fd: 'int',
  flags: 'uint32_t',
  prog_id: 'uint32_t',
  handle: 'uint32_t',
  priority: 'uint32_t',
});
export const MapBatchOpts = koffi.struct('bpf_map_batch_opts', {
  sz: 'size_t',
  elem_flags: 'uint64_t',
  flags: 'uint64_t',
});

export const BpfObjectHandle = koffi.opaque('bpf_object');
export const BpfMapHandle = koffi.opaque('bpf_map');
/** struct bpf_test_run_opts (libbpf 1.x): runs a program once, e.g. a syscall program with `ctx_in`. */
export const TestRunOpts = koffi.struct('bpf_test_run_opts', {
  sz: 'size_t',
  data_in: 'void *',
  data_out: 'void *',
  data_size_in: 'uint32_t',
  data_size_out: 'uint32_t',
  ctx_in: 'void *',
  ctx_out: 'void *',
  ctx_size_in: 'uint32_t',
  ctx_size_out: 'uint32_t',
  retval: 'uint32_t',
  repeat: 'int',
  duration: 'uint32_t',
  flags: 'uint32_t',
  cpu: 'uint32_t',
  batch_size: 'uint32_t',
});

export const BpfProgramHandle = koffi.opaque('bpf_program');
export const RingBufferHandle = koffi.opaque('ring_buffer');
export const RingBufferSampleFn = koffi.proto(
  'int ring_buffer_sample_fn(void *ctx, void *data, size_t size)',
);

function declare(path: string) {
  const so = koffi.load(path);
  const libc = koffi.load('libc.so.6');
  return {
    path,
    // versions
    libbpf_major_version: so.func('uint32_t libbpf_major_version(void)'),
    libbpf_minor_version: so.func('uint32_t libbpf_minor_version(void)'),
    libbpf_version_string: so.func('const char *libbpf_version_string(void)'),
    libbpf_set_print: so.func('void *libbpf_set_print(void *fn)'),
    // objects
    bpf_object__open_file: so.func('bpf_object *bpf_object__open_file(const char *path, void *opts)'),
    bpf_object__open_mem: so.func(
      'bpf_object *bpf_object__open_mem(const void *buf, size_t size, void *opts)',
    ),
    bpf_object__load: so.func('int bpf_object__load(bpf_object *obj)'),
    bpf_object__close: so.func('void bpf_object__close(bpf_object *obj)'),
    bpf_object__find_map_by_name: so.func(
      'bpf_map *bpf_object__find_map_by_name(bpf_object *obj, const char *name)',
    ),
    bpf_object__find_program_by_name: so.func(
      'bpf_program *bpf_object__find_program_by_name(bpf_object *obj, const char *name)',
    ),
    bpf_object__next_map: so.func('bpf_map *bpf_object__next_map(bpf_object *obj, bpf_map *map)'),
    bpf_map__name: so.func('const char *bpf_map__name(bpf_map *map)'),
    bpf_map__fd: so.func('int bpf_map__fd(bpf_map *map)'),
    bpf_map__set_max_entries: so.func('int bpf_map__set_max_entries(bpf_map *map, uint32_t max_entries)'),
    bpf_map__max_entries: so.func('uint32_t bpf_map__max_entries(bpf_map *map)'),
    bpf_map__type: so.func('int bpf_map__type(bpf_map *map)'),
    bpf_map__key_size: so.func('uint32_t bpf_map__key_size(bpf_map *map)'),
    bpf_map__value_size: so.func('uint32_t bpf_map__value_size(bpf_map *map)'),
    bpf_map__reuse_fd: so.func('int bpf_map__reuse_fd(bpf_map *map, int fd)'),
    bpf_map__set_initial_value: so.func(
      'int bpf_map__set_initial_value(bpf_map *map, const void *data, size_t size)',
    ),
    bpf_program__fd: so.func('int bpf_program__fd(bpf_program *prog)'),
    bpf_program__set_log_buf: so.func(
      'int bpf_program__set_log_buf(bpf_program *prog, _Out_ uint8_t *buf, size_t size)',
    ),
    bpf_program__set_log_level: so.func('int bpf_program__set_log_level(bpf_program *prog, uint32_t level)'),
    // fds and pins
    bpf_obj_pin: so.func('int bpf_obj_pin(int fd, const char *path)'),
    bpf_obj_get: so.func('int bpf_obj_get(const char *path)'),
    bpf_obj_get_info_by_fd: so.func(
      'int bpf_obj_get_info_by_fd(int fd, _Inout_ uint8_t *info, _Inout_ uint32_t *len)',
    ),
    bpf_prog_get_fd_by_id: so.func('int bpf_prog_get_fd_by_id(uint32_t id)'),
    bpf_link_create: so.func('int bpf_link_create(int prog_fd, int target_fd, int attach_type, void *opts)'),
    bpf_link_update: so.func('int bpf_link_update(int link_fd, int new_prog_fd, void *opts)'),
    bpf_prog_test_run_opts: so.func(
      'int bpf_prog_test_run_opts(int prog_fd, _Inout_ bpf_test_run_opts *opts)',
    ),
    bpf_enable_stats: so.func('int bpf_enable_stats(int type)'),
    // map operations; keys and values are Buffers laid out as in bpf/net_tc_filter.h
    bpf_map_update_elem: so.func(
      'int bpf_map_update_elem(int fd, const uint8_t *key, const uint8_t *value, uint64_t flags)',
    ),
    bpf_map_lookup_elem: so.func('int bpf_map_lookup_elem(int fd, const uint8_t *key, _Out_ uint8_t *value)'),
    bpf_map_delete_elem: so.func('int bpf_map_delete_elem(int fd, const uint8_t *key)'),
    bpf_map_get_next_key: so.func(
      'int bpf_map_get_next_key(int fd, const uint8_t *key, _Out_ uint8_t *next)',
    ),
    bpf_map_lookup_batch: so.func(
      'int bpf_map_lookup_batch(int fd, const uint8_t *in_batch, _Out_ uint8_t *out_batch, _Out_ uint8_t *keys, _Out_ uint8_t *values, _Inout_ uint32_t *count, const bpf_map_batch_opts *opts)',
    ),
    bpf_map_update_batch: so.func(
      'int bpf_map_update_batch(int fd, const uint8_t *keys, const uint8_t *values, _Inout_ uint32_t *count, const bpf_map_batch_opts *opts)',
    ),
    bpf_map_delete_batch: so.func(
      'int bpf_map_delete_batch(int fd, const uint8_t *keys, _Inout_ uint32_t *count, const bpf_map_batch_opts *opts)',
    ),
    // tc
    bpf_tc_hook_create: so.func('int bpf_tc_hook_create(bpf_tc_hook *hook)'),
    bpf_tc_hook_destroy: so.func('int bpf_tc_hook_destroy(bpf_tc_hook *hook)'),
    bpf_tc_attach: so.func('int bpf_tc_attach(const bpf_tc_hook *hook, _Inout_ bpf_tc_opts *opts)'),
    bpf_tc_detach: so.func('int bpf_tc_detach(const bpf_tc_hook *hook, const bpf_tc_opts *opts)'),
    bpf_tc_query: so.func('int bpf_tc_query(const bpf_tc_hook *hook, _Inout_ bpf_tc_opts *opts)'),
    // ring buffer
    ring_buffer__new: so.func(
      'ring_buffer *ring_buffer__new(int map_fd, ring_buffer_sample_fn *cb, void *ctx, void *opts)',
    ),
    ring_buffer__consume: so.func('int ring_buffer__consume(ring_buffer *rb)'),
    ring_buffer__free: so.func('void ring_buffer__free(ring_buffer *rb)'),
    // libc
    close: libc.func('int close(int fd)'),
    memcpy: libc.func('void *memcpy(_Out_ uint8_t *dest, void *src, size_t n)'),
    if_nametoindex: libc.func('unsigned int if_nametoindex(const char *name)'),
    if_indextoname: libc.func('char *if_indextoname(unsigned int index, _Out_ uint8_t *name)'),
    clock_gettime: libc.func('int clock_gettime(int clk, _Out_ uint8_t *ts)'),
  };
}

export type Libbpf = ReturnType<typeof declare>;

/** Loads the system libbpf once, by soname only: the privileged side never takes a library
 * path from config or environment. */
export function lib(): Libbpf {
  if (!loaded) {
    const path = 'libbpf.so.1';
    try {
      loaded = declare(path);
    } catch (err) {
      throw new Error(
        `cannot load ${path}: ${(err as Error).message}. Install it (Debian/Ubuntu: apt-get install libbpf1).`,
        { cause: err },
      );
    }
    // libbpf's own messages go to stderr through a va_list printer koffi cannot wrap; every
    // failure also comes back as a return code (turned into BpfError) and the verifier log is
    // captured per program, so silence the printer rather than let it write over our output.
    loaded.libbpf_set_print(null);
    const major = loaded.libbpf_major_version();
    const minor = loaded.libbpf_minor_version();
    if (major === 0 && minor < 8) {
      throw new Error(`libbpf ${major}.${minor} is too old: net-tc-filter needs libbpf >= 0.8 (tc API)`);
    }
  }
  return loaded;
}

export function libbpfVersion(): string {
  return lib().libbpf_version_string() as string;
}

/** errno after a pointer-returning call failed. */
export function lastErrno(): number {
  return koffi.errno();
}
