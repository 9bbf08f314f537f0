/* Ws2def.h: the same header as ws2def.h (Windows header names are case-insensitive). */
#include "overlapped_win32.h"
