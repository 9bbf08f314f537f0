/* TargetVer.h: the same header as targetver.h (Windows header names are case-insensitive). */
#include "overlapped_win32.h"
