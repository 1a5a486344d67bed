#!/bin/bash
# health-check.sh - 系统健康检查脚本

echo "=== Sealos Istio 系统健康检查 ==="

# 检查 Istio 控制平面
echo "1. 检查 Istio 控制平面..."
kubectl get pods -n istio-system -o wide

# 检查 Gateway 状态
echo -e "\n2. 检查 Gateway 状态..."
kubectl get gateway --all-namespaces

# 检查 VirtualService 状态
echo -e "\n3. 检查 VirtualService 状态..."
kubectl get virtualservice --all-namespaces

# 检查控制器状态
echo -e "\n4. 检查 Sealos 控制器状态..."
kubectl get deployment -n sealos-system

# 检查证书状态
echo -e "\n5. 检查证书状态..."
kubectl get certificate --all-namespaces

# 检查监控状态
echo -e "\n6. 检查监控系统状态..."
kubectl get pods -n monitoring

echo -e "\n=== 健康检查完成 ==="
