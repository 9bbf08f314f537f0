/* Process.h: the same header as process.h (Windows header names are case-insensitive). */
#include "overlapped_win32.h"
