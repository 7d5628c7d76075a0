/* Reproduces the crashes listed in README.md with libhdf5 alone (no qme, no h5py): opens the
 * file, counts the root group's links and visits every object, asking each group for its link
 * count, as qme's readers do before they read a dataset.
 *   cc walk_file.c -o walk_file $(pkg-config --cflags --libs hdf5)
 *   tail -c +2 INPUT.fuzz > file.h5 && ./walk_file file.h5   (a .h5 file directly) */
#include <hdf5.h>
#include <stdio.h>

static herr_t visit(hid_t object, const char* name, const H5O_info_t* info, void* unused) {
  (void)unused;
  if (info->type == H5O_TYPE_GROUP) {
    H5G_info_t group;
    H5Gget_info_by_name(object, name, &group, H5P_DEFAULT);
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: walk_file FILE.h5\n");
    return 2;
  }
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  const hid_t file = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) {
    puts("refused when opened");
    return 0;
  }
  H5G_info_t root;
  H5Gget_info(file, &root);
  H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_INC, visit, NULL, H5O_INFO_BASIC);
  puts("walked");
  H5Fclose(file);
  return 0;
}
