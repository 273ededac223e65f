#include <hdf5/serial/hdf5.h>

/* HDF5's constants are macros that expand to function calls or casts; Swift cannot
   import them, so they reach Swift through these functions. */
static inline hid_t srhdf5_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t srhdf5_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t srhdf5_p_default(void) { return H5P_DEFAULT; }
static inline unsigned srhdf5_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline hid_t srhdf5_c_s1(void) { return H5T_C_S1; }
static inline hid_t srhdf5_s_all(void) { return H5S_ALL; }
static inline hid_t srhdf5_e_default(void) { return H5E_DEFAULT; }
static inline hid_t srhdf5_native_uint32(void) { return H5T_NATIVE_UINT32; }
static inline hid_t srhdf5_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t srhdf5_std_u32le(void) { return H5T_STD_U32LE; }
static inline unsigned srhdf5_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline hid_t srhdf5_p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t srhdf5_p_file_create(void) { return H5P_FILE_CREATE; }
