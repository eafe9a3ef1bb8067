/* The C API compiles as C: print the version and the devices. */
#include <nuri/runtime.h>

#include <stdio.h>

int main(void) {
  size_t i;
  if (nuri_version() != NURI_RUNTIME_VERSION) {
    fprintf(stderr, "header %d, library %d\n", NURI_RUNTIME_VERSION,
            nuri_version());
    return 1;
  }
  printf("nuri runtime %s; devices:", nuri_version_string());
  for (i = 0; i < nuri_device_count(); ++i) {
    printf(" %s", nuri_device_name(i));
  }
  printf("\n");
  return 0;
}
