/*
 * iocp_server.c: an echo server on an I/O completion port, written the way
 * the book writes it: one worker thread per processor (GetSystemInfo)
 * looping on GetQueuedCompletionStatus; per-handle data as the completion
 * key, per-I/O data that starts with its OVERLAPPED. Ctrl+C or SIGTERM
 * (SetConsoleCtrlHandler) posts one empty packet per worker, waits for
 * them to end (WaitForMultipleObjects on the thread handles) and exits 0.
 * A close event (SIGTERM) ends the process once its handler returns, so
 * that handler waits for the clean-up to be done (the Stopped event).
 *
 *   iocp_server [PORT]
 */
#include <winsock2.h>
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <process.h>

#pragma comment(lib, "Ws2_32.lib")

#define DATA_BUFSIZE 8192
#define MAX_WORKERS 16

typedef struct {
    OVERLAPPED Overlapped;
    WSABUF DataBuf;
    CHAR Buffer[DATA_BUFSIZE];
    DWORD BytesSEND;
    DWORD BytesRECV;
} PER_IO_OPERATION_DATA, *LPPER_IO_OPERATION_DATA;

typedef struct {
    SOCKET Socket;
} PER_HANDLE_DATA, *LPPER_HANDLE_DATA;

static unsigned __stdcall ServerWorkerThread(void *CompletionPortID);

static HANDLE CompletionPort;
static HANDLE Workers[MAX_WORKERS];
static DWORD WorkerCount;
static SOCKET Listen;
static volatile LONG Stopping = 0;
static HANDLE Stopped; /* set by main once everything is cleaned up */

static BOOL WINAPI CtrlHandler(DWORD CtrlType)
{
    DWORD i;
    if (CtrlType != CTRL_C_EVENT && CtrlType != CTRL_CLOSE_EVENT)
        return FALSE;
    InterlockedExchange(&Stopping, 1);
    for (i = 0; i < WorkerCount; i++)
        PostQueuedCompletionStatus(CompletionPort, 0, 0, NULL);
    closesocket(Listen); /* ends the accept loop */
    /* The process ends when a close event's handler returns: let main
       finish first (Ctrl+C leaves the process running: main ends it). */
    if (CtrlType == CTRL_CLOSE_EVENT)
        WaitForSingleObject(Stopped, INFINITE);
    return TRUE;
}

int main(int argc, char **argv)
{
    SOCKADDR_IN InternetAddr;
    int AddrLen = sizeof(InternetAddr);
    SOCKET Accept;
    SYSTEM_INFO SystemInfo;
    LPPER_HANDLE_DATA PerHandleData;
    LPPER_IO_OPERATION_DATA PerIoData;
    DWORD i, RecvBytes, Flags;
    WSADATA wsaData;
    int Ret;

    if ((Ret = WSAStartup(0x0202, &wsaData)) != 0) {
        printf("WSAStartup failed with error %d\n", Ret);
        return 1;
    }
    if ((CompletionPort = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0)) == NULL) {
        printf("CreateIoCompletionPort failed with error: %d\n", GetLastError());
        return 1;
    }
    GetSystemInfo(&SystemInfo);
    WorkerCount = SystemInfo.dwNumberOfProcessors * 2;
    if (WorkerCount > MAX_WORKERS)
        WorkerCount = MAX_WORKERS;
    for (i = 0; i < WorkerCount; i++) {
        Workers[i] = (HANDLE)_beginthreadex(NULL, 0, ServerWorkerThread, CompletionPort, 0, NULL);
        if (Workers[i] == NULL) {
            printf("_beginthreadex() failed with error %d\n", GetLastError());
            return 1;
        }
    }
    if ((Listen = WSASocket(AF_INET, SOCK_STREAM, 0, NULL, 0, WSA_FLAG_OVERLAPPED)) == INVALID_SOCKET) {
        printf("WSASocket() failed with error %d\n", WSAGetLastError());
        return 1;
    }
    InternetAddr.sin_family = AF_INET;
    InternetAddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    InternetAddr.sin_port = htons((u_short)(argc > 1 ? atoi(argv[1]) : 5150));
    if (bind(Listen, (PSOCKADDR)&InternetAddr, sizeof(InternetAddr)) == SOCKET_ERROR) {
        printf("bind() failed with error %d\n", WSAGetLastError());
        return 1;
    }
    if (listen(Listen, SOMAXCONN) == SOCKET_ERROR) {
        printf("listen() failed with error %d\n", WSAGetLastError());
        return 1;
    }
    if ((Stopped = CreateEvent(NULL, TRUE, FALSE, NULL)) == NULL) {
        printf("CreateEvent failed with error %d\n", GetLastError());
        return 1;
    }
    if (!SetConsoleCtrlHandler(CtrlHandler, TRUE)) {
        printf("SetConsoleCtrlHandler failed with error %d\n", GetLastError());
        return 1;
    }
    getsockname(Listen, (PSOCKADDR)&InternetAddr, &AddrLen);
    printf("listening on %s:%d\n", inet_ntoa(InternetAddr.sin_addr), ntohs(InternetAddr.sin_port));
    fflush(stdout);

    while (TRUE) {
        if ((Accept = WSAAccept(Listen, NULL, NULL, NULL, 0)) == INVALID_SOCKET) {
            if (Stopping)
                break;
            printf("WSAAccept() failed with error %d\n", WSAGetLastError());
            return 1;
        }
        if ((PerHandleData = (LPPER_HANDLE_DATA)GlobalAlloc(GPTR, sizeof(PER_HANDLE_DATA))) == NULL) {
            printf("GlobalAlloc() failed with error %d\n", GetLastError());
            return 1;
        }
        PerHandleData->Socket = Accept;
        if (CreateIoCompletionPort((HANDLE)Accept, CompletionPort, (ULONG_PTR)PerHandleData, 0) == NULL) {
            printf("CreateIoCompletionPort failed with error %d\n", GetLastError());
            return 1;
        }
        if ((PerIoData = (LPPER_IO_OPERATION_DATA)GlobalAlloc(GPTR, sizeof(PER_IO_OPERATION_DATA))) == NULL) {
            printf("GlobalAlloc() failed with error %d\n", GetLastError());
            return 1;
        }
        ZeroMemory(&(PerIoData->Overlapped), sizeof(OVERLAPPED));
        PerIoData->BytesSEND = 0;
        PerIoData->BytesRECV = 0;
        PerIoData->DataBuf.len = DATA_BUFSIZE;
        PerIoData->DataBuf.buf = PerIoData->Buffer;
        Flags = 0;
        if (WSARecv(Accept, &(PerIoData->DataBuf), 1, &RecvBytes, &Flags, &(PerIoData->Overlapped), NULL) == SOCKET_ERROR) {
            if (WSAGetLastError() != ERROR_IO_PENDING) {
                printf("WSARecv() failed with error %d\n", WSAGetLastError());
                return 1;
            }
        }
    }
    if ((Ret = WaitForMultipleObjects(WorkerCount, Workers, TRUE, 60000)) != WAIT_OBJECT_0) {
        printf("the workers did not stop (WaitForMultipleObjects: %d, error %d)\n", Ret, GetLastError());
        return 1;
    }
    for (i = 0; i < WorkerCount; i++)
        CloseHandle(Workers[i]);
    CloseHandle(CompletionPort);
    WSACleanup();
    printf("stopped\n");
    fflush(stdout);
    SetEvent(Stopped);
    return 0;
}

static unsigned __stdcall ServerWorkerThread(void *CompletionPortID)
{
    HANDLE Port = (HANDLE)CompletionPortID;
    DWORD BytesTransferred, SendBytes, RecvBytes, Flags;
    LPPER_HANDLE_DATA PerHandleData;
    LPPER_IO_OPERATION_DATA PerIoData;
    LPOVERLAPPED Overlapped;

    while (TRUE) {
        BOOL ok = GetQueuedCompletionStatus(Port, &BytesTransferred, (PULONG_PTR)&PerHandleData, &Overlapped, INFINITE);
        if (Overlapped == NULL)
            return 0; /* the stop packet, or the port went away */
        PerIoData = CONTAINING_RECORD(Overlapped, PER_IO_OPERATION_DATA, Overlapped);
        if (!ok || BytesTransferred == 0) {
            closesocket(PerHandleData->Socket);
            GlobalFree(PerHandleData);
            GlobalFree(PerIoData);
            continue;
        }
        if (PerIoData->BytesRECV == 0) {
            PerIoData->BytesRECV = BytesTransferred;
            PerIoData->BytesSEND = 0;
        } else {
            PerIoData->BytesSEND += BytesTransferred;
        }
        if (PerIoData->BytesRECV > PerIoData->BytesSEND) {
            ZeroMemory(&(PerIoData->Overlapped), sizeof(OVERLAPPED));
            PerIoData->DataBuf.buf = PerIoData->Buffer + PerIoData->BytesSEND;
            PerIoData->DataBuf.len = PerIoData->BytesRECV - PerIoData->BytesSEND;
            if (WSASend(PerHandleData->Socket, &(PerIoData->DataBuf), 1, &SendBytes, 0, &(PerIoData->Overlapped), NULL) ==
                SOCKET_ERROR) {
                if (WSAGetLastError() != ERROR_IO_PENDING) {
                    printf("WSASend() failed with error %d\n", WSAGetLastError());
                    return 0;
                }
            }
        } else {
            PerIoData->BytesRECV = 0;
            Flags = 0;
            ZeroMemory(&(PerIoData->Overlapped), sizeof(OVERLAPPED));
            PerIoData->DataBuf.len = DATA_BUFSIZE;
            PerIoData->DataBuf.buf = PerIoData->Buffer;
            if (WSARecv(PerHandleData->Socket, &(PerIoData->DataBuf), 1, &RecvBytes, &Flags, &(PerIoData->Overlapped), NULL) ==
                SOCKET_ERROR) {
                if (WSAGetLastError() != ERROR_IO_PENDING) {
                    printf("WSARecv() failed with error %d\n", WSAGetLastError());
                    return 0;
                }
            }
        }
    }
}
