/* WinBase.h: the same header as winbase.h (Windows header names are case-insensitive). */
#include "overlapped_win32.h"
