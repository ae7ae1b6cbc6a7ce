/* ms-error.c — the MS_ERROR domain. */
#include "ms-error.h"

G_DEFINE_QUARK (mswatch-ng-error-quark, ms_error)
