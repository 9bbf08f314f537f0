/* Winsock.h: the same header as winsock.h (Windows header names are case-insensitive). */
#include "overlapped_win32.h"
