/* WinDef.h: the same header as windef.h (Windows header names are case-insensitive). */
#include "overlapped_win32.h"
