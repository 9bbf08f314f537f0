/* WinError.h: the same header as winerror.h (Windows header names are case-insensitive). */
#include "overlapped_win32.h"
