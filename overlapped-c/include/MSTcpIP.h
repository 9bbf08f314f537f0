/* MSTcpIP.h: the same header as mstcpip.h (Windows header names are case-insensitive). */
#include "overlapped_win32.h"
