/* SdkDdkVer.h: the same header as sdkddkver.h (Windows header names are case-insensitive). */
#include "overlapped_win32.h"
