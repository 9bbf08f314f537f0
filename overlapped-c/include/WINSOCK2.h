/* WINSOCK2.h: the same header as winsock2.h (Windows header names are case-insensitive). */
#include "overlapped_win32.h"
