/* Windows.h: the same header as windows.h (Windows header names are case-insensitive). */
#include "overlapped_win32.h"
