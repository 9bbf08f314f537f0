/* IPHlpApi.h: the same header as iphlpapi.h (Windows header names are case-insensitive). */
#include "overlapped_win32.h"
