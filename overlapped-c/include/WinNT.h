/* WinNT.h: the same header as winnt.h (Windows header names are case-insensitive). */
#include "overlapped_win32.h"
