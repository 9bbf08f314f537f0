/* targetver.h: forwards to the one header of the C interface. */
#include "overlapped_win32.h"
