/* err.c - names and messages of the project-wide error enum (brook.h). */
#include <errno.h>

#include "brook.h"

const char *brook_err_name(brook_err_t err)
{
	switch (err) {
#define BROOK_ERR_NAME_(name, value, msg) case BROOK_ERR_##name: return #name;
	BROOK_ERR_TABLE(BROOK_ERR_NAME_)
#undef BROOK_ERR_NAME_
	}
	return "UNKNOWN";
}

const char *brook_err_str(brook_err_t err)
{
	switch (err) {
#define BROOK_ERR_STR_(name, value, msg) case BROOK_ERR_##name: return msg;
	BROOK_ERR_TABLE(BROOK_ERR_STR_)
#undef BROOK_ERR_STR_
	}
	return "Unknown error code";
}

brook_err_t brook_err_from_errno(int errnum)
{
	switch (errnum) {
	case 0:
		return BROOK_ERR_NO_ERROR;
	case ENOMEM:
		return BROOK_ERR__NOMEM;
	case ENOENT:
		return BROOK_ERR__NOENT;
	case EEXIST:
		return BROOK_ERR__EXISTS;
	case ENOSPC:
	case EDQUOT:
		return BROOK_ERR__NO_SPACE;
	case EROFS:
	case EACCES:
	case EPERM:
		return BROOK_ERR__READ_ONLY;
	case EINVAL:
		return BROOK_ERR__INVALID_ARG;
	case ETIMEDOUT:
		return BROOK_ERR__TIMED_OUT;
	default:
		return BROOK_ERR__IO;
	}
}
