/* MsWSock.h: the same header as mswsock.h (Windows header names are case-insensitive). */
#include "overlapped_win32.h"
