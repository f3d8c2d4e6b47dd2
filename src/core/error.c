/* One table of error codes -> messages (include/tern/error.h). */
#include <string.h>

#include <tern/error.h>

const char *tern_strerror(int err)
{
	if (err == 0)
		return "success";
	switch (err) {
#define TERN__ERR_CASE(name, off, msg) \
	case TERN_E##name:             \
		return msg;
		TERN_ERRNO_MAP(TERN__ERR_CASE)
#undef TERN__ERR_CASE
	default:
		break;
	}
	if (err < 0 && err > TERN_E_BASE)
		return strerror(-err); /* glibc: thread-safe for known codes */
	return "unknown error";
}
