/* TChar.h: the same header as tchar.h (Windows header names are case-insensitive). */
#include "overlapped_win32.h"
