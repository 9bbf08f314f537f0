/*
 * acceptex_server.c: an echo server that accepts with AcceptEx on an I/O
 * completion port, written as such servers are on Windows: AcceptEx and
 * GetAcceptExSockaddrs come from WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER);
 * several AcceptEx calls stay posted; each completes with the client's first
 * bytes, then SO_UPDATE_ACCEPT_CONTEXT, association with the port, and the
 * usual WSARecv / WSASend echo. Worker threads loop on
 * GetQueuedCompletionStatus.
 *
 *   acceptex_server [PORT]
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

#pragma comment(lib, "Ws2_32.lib")
#pragma comment(lib, "Mswsock.lib")

#define BUF_SIZE 8192
#define ADDR_LEN (sizeof(SOCKADDR_IN) + 16)
#define POSTED_ACCEPTS 4
#define WORKERS 2

typedef enum { OP_ACCEPT, OP_READ, OP_WRITE } OPERATION;

typedef struct _IO_CONTEXT {
    WSAOVERLAPPED Overlapped;
    OPERATION Op;
    SOCKET Socket;
    WSABUF Wsabuf;
    DWORD Total, Sent;
    char Buffer[BUF_SIZE + 2 * ADDR_LEN];
} IO_CONTEXT, *PIO_CONTEXT;

static SOCKET ListenSocket;
static HANDLE Port;
static LPFN_ACCEPTEX lpfnAcceptEx;
static LPFN_GETACCEPTEXSOCKADDRS lpfnGetAcceptExSockaddrs;
static CRITICAL_SECTION PrintLock;

static BOOL PostAccept(PIO_CONTEXT ctx)
{
    DWORD bytes = 0;
    ZeroMemory(&ctx->Overlapped, sizeof(ctx->Overlapped));
    ctx->Op = OP_ACCEPT;
    ctx->Socket = WSASocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    if (ctx->Socket == INVALID_SOCKET) {
        printf("WSASocket failed with error %d\n", WSAGetLastError());
        return FALSE;
    }
    /* Receive up to 64 bytes with the accept. */
    if (!lpfnAcceptEx(ListenSocket, ctx->Socket, ctx->Buffer, 64, ADDR_LEN, ADDR_LEN, &bytes, &ctx->Overlapped) &&
        WSAGetLastError() != ERROR_IO_PENDING) {
        printf("AcceptEx failed with error %d\n", WSAGetLastError());
        return FALSE;
    }
    return TRUE;
}

static BOOL PostRecv(PIO_CONTEXT ctx)
{
    DWORD flags = 0, bytes = 0;
    ZeroMemory(&ctx->Overlapped, sizeof(ctx->Overlapped));
    ctx->Op = OP_READ;
    ctx->Wsabuf.buf = ctx->Buffer;
    ctx->Wsabuf.len = BUF_SIZE;
    if (WSARecv(ctx->Socket, &ctx->Wsabuf, 1, &bytes, &flags, &ctx->Overlapped, NULL) == SOCKET_ERROR &&
        WSAGetLastError() != WSA_IO_PENDING)
        return FALSE;
    return TRUE;
}

static BOOL PostSend(PIO_CONTEXT ctx)
{
    DWORD bytes = 0;
    ZeroMemory(&ctx->Overlapped, sizeof(ctx->Overlapped));
    ctx->Op = OP_WRITE;
    ctx->Wsabuf.buf = ctx->Buffer + ctx->Sent;
    ctx->Wsabuf.len = ctx->Total - ctx->Sent;
    if (WSASend(ctx->Socket, &ctx->Wsabuf, 1, &bytes, 0, &ctx->Overlapped, NULL) == SOCKET_ERROR &&
        WSAGetLastError() != WSA_IO_PENDING)
        return FALSE;
    return TRUE;
}

static DWORD WINAPI Worker(LPVOID param)
{
    DWORD bytes;
    ULONG_PTR key;
    LPOVERLAPPED ov;
    (void)param;

    for (;;) {
        BOOL ok = GetQueuedCompletionStatus(Port, &bytes, &key, &ov, INFINITE);
        PIO_CONTEXT ctx;
        if (ov == NULL)
            return 0;
        ctx = CONTAINING_RECORD(ov, IO_CONTEXT, Overlapped);
        if (ctx->Op == OP_ACCEPT) {
            SOCKADDR *local = NULL, *remote = NULL;
            int localLen = 0, remoteLen = 0;
            PIO_CONTEXT conn;
            if (!ok) {
                printf("AcceptEx completed with error %d\n", GetLastError());
                closesocket(ctx->Socket);
                PostAccept(ctx);
                continue;
            }
            lpfnGetAcceptExSockaddrs(ctx->Buffer, 64, ADDR_LEN, ADDR_LEN, &local, &localLen, &remote, &remoteLen);
            if (remote == NULL || remote->sa_family != AF_INET ||
                ((SOCKADDR_IN *)remote)->sin_addr.s_addr != htonl(INADDR_LOOPBACK)) {
                EnterCriticalSection(&PrintLock);
                printf("GetAcceptExSockaddrs gave an unexpected remote address\n");
                LeaveCriticalSection(&PrintLock);
            }
            if (setsockopt(ctx->Socket, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (char *)&ListenSocket, sizeof(ListenSocket)) ==
                SOCKET_ERROR)
                printf("SO_UPDATE_ACCEPT_CONTEXT failed with error %d\n", WSAGetLastError());
            /* The connection gets its own context; this one accepts again. */
            conn = (PIO_CONTEXT)HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, sizeof(IO_CONTEXT));
            conn->Socket = ctx->Socket;
            CopyMemory(conn->Buffer, ctx->Buffer, bytes);
            conn->Total = bytes;
            conn->Sent = 0;
            if (CreateIoCompletionPort((HANDLE)conn->Socket, Port, (ULONG_PTR)conn->Socket, 0) == NULL)
                printf("CreateIoCompletionPort failed with error %d\n", GetLastError());
            if (bytes > 0 ? !PostSend(conn) : !PostRecv(conn)) {
                closesocket(conn->Socket);
                HeapFree(GetProcessHeap(), 0, conn);
            }
            if (!PostAccept(ctx))
                return 1;
            continue;
        }
        if (!ok || bytes == 0) {
            closesocket(ctx->Socket);
            HeapFree(GetProcessHeap(), 0, ctx);
            continue;
        }
        if (ctx->Op == OP_READ) {
            ctx->Total = bytes;
            ctx->Sent = 0;
            if (!PostSend(ctx)) {
                closesocket(ctx->Socket);
                HeapFree(GetProcessHeap(), 0, ctx);
            }
        } else {
            ctx->Sent += bytes;
            if (ctx->Sent < ctx->Total ? !PostSend(ctx) : !PostRecv(ctx)) {
                closesocket(ctx->Socket);
                HeapFree(GetProcessHeap(), 0, ctx);
            }
        }
    }
}

int main(int argc, char **argv)
{
    WSADATA wsd;
    SOCKADDR_IN addr;
    int addrLen = sizeof(addr), i;
    GUID guidAcceptEx = WSAID_ACCEPTEX, guidGetAddrs = WSAID_GETACCEPTEXSOCKADDRS;
    DWORD bytes = 0;
    HANDLE threads[WORKERS];
    static IO_CONTEXT accepts[POSTED_ACCEPTS];

    if (WSAStartup(MAKEWORD(2, 2), &wsd) != 0)
        return 1;
    InitializeCriticalSection(&PrintLock);
    Port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    ListenSocket = WSASocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    ZeroMemory(&addr, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((u_short)(argc > 1 ? atoi(argv[1]) : 5150));
    if (bind(ListenSocket, (SOCKADDR *)&addr, sizeof(addr)) == SOCKET_ERROR || listen(ListenSocket, SOMAXCONN) == SOCKET_ERROR) {
        printf("bind/listen failed with error %d\n", WSAGetLastError());
        return 1;
    }
    if (WSAIoctl(ListenSocket, SIO_GET_EXTENSION_FUNCTION_POINTER, &guidAcceptEx, sizeof(guidAcceptEx), &lpfnAcceptEx,
                 sizeof(lpfnAcceptEx), &bytes, NULL, NULL) == SOCKET_ERROR ||
        WSAIoctl(ListenSocket, SIO_GET_EXTENSION_FUNCTION_POINTER, &guidGetAddrs, sizeof(guidGetAddrs),
                 &lpfnGetAcceptExSockaddrs, sizeof(lpfnGetAcceptExSockaddrs), &bytes, NULL, NULL) == SOCKET_ERROR) {
        printf("WSAIoctl failed with error %d\n", WSAGetLastError());
        return 1;
    }
    /* AcceptEx completions go to the listener's key. */
    if (CreateIoCompletionPort((HANDLE)ListenSocket, Port, (ULONG_PTR)ListenSocket, 0) == NULL) {
        printf("CreateIoCompletionPort failed with error %d\n", GetLastError());
        return 1;
    }
    getsockname(ListenSocket, (SOCKADDR *)&addr, &addrLen);
    printf("listening on %s:%d\n", inet_ntoa(addr.sin_addr), ntohs(addr.sin_port));
    fflush(stdout);
    for (i = 0; i < WORKERS; i++)
        threads[i] = CreateThread(NULL, 0, Worker, NULL, 0, NULL);
    for (i = 0; i < POSTED_ACCEPTS; i++)
        if (!PostAccept(&accepts[i]))
            return 1;
    WaitForMultipleObjects(WORKERS, threads, TRUE, INFINITE);
    return 0;
}
