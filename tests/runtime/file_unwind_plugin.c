/* A plugin for file_unwind_test: built twice, with frames of different
 * sizes (-DFRAME_WORDS), so that the same return address in one and in the
 * other has different unwind rules (plugin_call comes first, kept there by
 * -fno-toplevel-reorder, and its code differs only in immediates). The test
 * loads one, unloads it, and loads the other where the first was. */
typedef void (*plugin_callback)(void);

__attribute__((noinline)) static void fill(void* volatile* p, int n, void* v);

int plugin_call(plugin_callback cb) {
  void* volatile frame[FRAME_WORDS];
  fill(frame, FRAME_WORDS, (void*)cb);
  cb();
  return frame[0] != 0;
}

__attribute__((noinline)) static void fill(void* volatile* p, int n, void* v) {
  for (int i = 0; i < n; ++i) p[i] = v;
}
