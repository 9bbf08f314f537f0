/* WS2TCPIP.h: the same header as ws2tcpip.h (Windows header names are case-insensitive). */
#include "overlapped_win32.h"
