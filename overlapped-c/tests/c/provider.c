/*
 * provider.c: WSAProviderConfigChange through the C interface: the handle
 * made at once, then a change awaited with an event record, with a
 * completion routine, and a pending call aborted by CloseHandle. The
 * watched file is a temporary one (OVERLAPPED_PROVIDER_FILES), changed by
 * this program. Prints "ok N checks" or the first failed check.
 */
#include <winsock2.h>
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma comment(lib, "ws2_32.lib")

static int checks = 0;
#define CHECK(cond)                                                                                    \
    do {                                                                                               \
        checks++;                                                                                      \
        if (!(cond)) {                                                                                 \
            printf("FAILED line %d: %s (WSAGetLastError %d)\n", __LINE__, #cond, WSAGetLastError()); \
            exit(1);                                                                                   \
        }                                                                                              \
    } while (0)

static char path[256];

static void change(void)
{
    FILE *f = fopen(path, "a");
    CHECK(f != NULL);
    fputs("changed\n", f);
    fclose(f);
}

static int RoutineRuns;
static DWORD RoutineError;
static void CALLBACK Routine(DWORD error, DWORD bytes, LPWSAOVERLAPPED ov, DWORD flags)
{
    (void)bytes;
    (void)ov;
    (void)flags;
    RoutineRuns++;
    RoutineError = error;
}

int main(void)
{
    WSADATA wsa;
    HANDLE h = NULL, h2 = NULL;
    WSAOVERLAPPED ov;
    WSAEVENT ev = WSACreateEvent();
    DWORD bytes, flags;
    int i;

    CHECK(WSAStartup(MAKEWORD(2, 2), &wsa) == 0);
    snprintf(path, sizeof(path), "/tmp/overlapped-provider-%d.conf", (int)GetCurrentProcessId());
    change();
    setenv("OVERLAPPED_PROVIDER_FILES", path, 1);

    CHECK(WSAProviderConfigChange(NULL, NULL, NULL) == SOCKET_ERROR && WSAGetLastError() == WSAEFAULT);
    /* The first call makes the handle at once. */
    CHECK(WSAProviderConfigChange(&h, NULL, NULL) == 0 && h != NULL);
    h2 = (HANDLE)0x777770;
    CHECK(WSAProviderConfigChange(&h2, NULL, NULL) == SOCKET_ERROR && WSAGetLastError() == WSA_INVALID_HANDLE);

    /* Event record: pending until the file changes. */
    ZeroMemory(&ov, sizeof(ov));
    ov.hEvent = ev;
    CHECK(WSAProviderConfigChange(&h, &ov, NULL) == SOCKET_ERROR && WSAGetLastError() == WSA_IO_PENDING);
    CHECK(ov.Internal == STATUS_PENDING);
    CHECK(WSAWaitForMultipleEvents(1, &ev, TRUE, 300, FALSE) == WSA_WAIT_TIMEOUT);
    CHECK(!GetOverlappedResult(h, &ov, &bytes, FALSE) && GetLastError() == WSA_IO_INCOMPLETE);
    change();
    CHECK(WSAWaitForMultipleEvents(1, &ev, TRUE, 20000, FALSE) == WSA_WAIT_EVENT_0);
    CHECK(WSAGetOverlappedResult((SOCKET)h, &ov, &bytes, FALSE, &flags) && bytes == 0);
    CHECK(ov.Internal == 0 && HasOverlappedIoCompleted(&ov));
    WSAResetEvent(ev);

    /* Completion routine: runs in an alertable wait after the change. */
    ZeroMemory(&ov, sizeof(ov));
    CHECK(WSAProviderConfigChange(&h, &ov, Routine) == SOCKET_ERROR && WSAGetLastError() == WSA_IO_PENDING);
    CHECK(SleepEx(100, TRUE) == 0 && RoutineRuns == 0);
    change();
    for (i = 0; i < 200 && RoutineRuns == 0; i++)
        SleepEx(100, TRUE);
    CHECK(RoutineRuns == 1 && RoutineError == 0);

    /* CloseHandle aborts a pending call. */
    ZeroMemory(&ov, sizeof(ov));
    ov.hEvent = ev;
    CHECK(WSAProviderConfigChange(&h, &ov, NULL) == SOCKET_ERROR && WSAGetLastError() == WSA_IO_PENDING);
    CHECK(CloseHandle(h));
    CHECK(WSAWaitForMultipleEvents(1, &ev, TRUE, 20000, FALSE) == WSA_WAIT_EVENT_0);
    CHECK(!GetOverlappedResult(h, &ov, &bytes, TRUE) && GetLastError() == WSA_OPERATION_ABORTED);

    remove(path);
    WSACloseEvent(ev);
    CHECK(WSACleanup() == 0);
    printf("ok %d checks\n", checks);
    return 0;
}
