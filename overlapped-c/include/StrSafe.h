/* StrSafe.h: the same header as strsafe.h (Windows header names are case-insensitive). */
#include "overlapped_win32.h"
