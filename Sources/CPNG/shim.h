#include <png.h>
#include <string.h>

/* libpng's format and size macros, which Swift cannot import. */
static inline png_uint_32 srpng_format_rgb(void) { return PNG_FORMAT_RGB; }
static inline png_uint_32 srpng_format_rgba(void) { return PNG_FORMAT_RGBA; }
static inline png_uint_32 srpng_format_gray(void) { return PNG_FORMAT_GRAY; }
static inline png_uint_32 srpng_version(void) { return PNG_IMAGE_VERSION; }
static inline int srpng_failed(const png_image *image) { return PNG_IMAGE_FAILED(*image); }
