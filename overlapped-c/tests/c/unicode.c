/*
 * unicode.c: a UNICODE build, written as such programs are: _tmain with
 * _TCHAR *argv[], _T("...") strings, TCHAR buffers, _tprintf with
 * Microsoft's %s (a wide string in a wide printf), and the W functions
 * behind CreateEvent, CreateFile, InetPton/InetNtop, WSAAddressToString,
 * WSAStringToAddress and FormatMessage. Run as `unicode grüße --x`; prints
 * "ok N checks grüße" or the first failed check.
 */
#define UNICODE
#define _UNICODE
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <tchar.h>
#include <stdio.h>

#pragma comment(lib, "ws2_32.lib")

static int checks = 0;
#define CHECK(cond)                                                              \
    do {                                                                         \
        checks++;                                                                \
        if (!(cond)) {                                                           \
            _tprintf(_T("FAILED line %d (GetLastError %u)\n"), __LINE__, (unsigned)GetLastError()); \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

int _tmain(int argc, _TCHAR *argv[])
{
    WSADATA wsa;
    HANDLE ev, file;
    TCHAR buf[128];
    LPTSTR msg = NULL;
    SOCKADDR_IN sin;
    DWORD len;
    INT alen;
    LARGE_INTEGER size;
    char path[256];
    TCHAR wpath[256];

    CHECK(sizeof(TCHAR) == sizeof(wchar_t) && sizeof(_T("ab")) == 3 * sizeof(wchar_t));
    CHECK(argc == 3 && _tcscmp(argv[1], _T("grüße")) == 0 && _tcscmp(argv[2], _T("--x")) == 0);
    CHECK(_tcslen(argv[1]) == 5 && argv[3] == NULL);
    CHECK(WSAStartup(MAKEWORD(2, 2), &wsa) == 0);

    /* CreateEvent is CreateEventW. */
    ev = CreateEvent(NULL, TRUE, FALSE, NULL);
    CHECK(ev != NULL && SetEvent(ev) && WaitForSingleObject(ev, 0) == WAIT_OBJECT_0);
    CHECK(CloseHandle(ev));
    CHECK(CreateEvent(NULL, TRUE, FALSE, _T("Global\\named")) == NULL && GetLastError() == ERROR_NOT_SUPPORTED);

    /* Addresses as wide text. */
    ZeroMemory(&sin, sizeof(sin));
    sin.sin_family = AF_INET;
    CHECK(InetPton(AF_INET, _T("127.0.0.1"), &sin.sin_addr) == 1 && sin.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    CHECK(InetNtop(AF_INET, &sin.sin_addr, buf, 128) == buf && _tcscmp(buf, _T("127.0.0.1")) == 0);
    sin.sin_port = htons(443);
    len = 128;
    CHECK(WSAAddressToString((LPSOCKADDR)&sin, sizeof(sin), NULL, buf, &len) == 0);
    CHECK(_tcscmp(buf, _T("127.0.0.1:443")) == 0 && len == 14);
    alen = sizeof(sin);
    CHECK(WSAStringToAddress((LPTSTR)_T("10.1.2.3:8"), AF_INET, NULL, (LPSOCKADDR)&sin, &alen) == 0);
    CHECK(sin.sin_port == htons(8) && sin.sin_addr.s_addr == inet_addr("10.1.2.3"));

    /* FormatMessage is FormatMessageW. */
    CHECK(FormatMessage(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
                        WSAECONNRESET, 0, (LPTSTR)&msg, 0, NULL) > 0);
    CHECK(msg != NULL && _tcsstr(msg, _T("reset")) != NULL);
    LocalFree(msg);

    /* CreateFile is CreateFileW. */
    snprintf(path, sizeof(path), "/tmp/overlapped-unicode-%d-ß.txt", (int)GetCurrentProcessId());
    CHECK(ovl_utf8_to_wide(path, wpath, 256) <= 256);
    file = CreateFile(wpath, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    CHECK(file != INVALID_HANDLE_VALUE && CloseHandle(file));
    file = CreateFile(wpath, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    CHECK(file != INVALID_HANDLE_VALUE && GetFileSizeEx(file, &size) && size.QuadPart == 0);
    CHECK(CloseHandle(file));
    remove(path);

    /* Microsoft's %s in a wide printf takes a wide string. */
    _stprintf(buf, _T("%s-%d-%c-%S"), _T("ab"), 7, _T('z'), "narrow");
    CHECK(_tcscmp(buf, _T("ab-7-z-narrow")) == 0);

    CHECK(WSACleanup() == 0);
    _tprintf(_T("ok %d checks %s\n"), checks, argv[1]);
    return 0;
}
